package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
)

// What the two hand-written sides (raw confluent-kafka-go in raw.go, franz-go
// in franz.go) share: their services route decoded events by name to
// handlers, and their requesters match replies to requests by correlation ID.
// Only the client code differs.

// eventHandler handles a decoded event; replyTo is the record's
// kafka_replyTopic header (nil when it has none).
type eventHandler func(ev *rawEvent, replyTo []byte) error

// service is a hand-written group consumer with a producer for replies.
type service interface {
	// on binds an event name to h; call it before start.
	on(event string, h eventHandler)
	start() error
	awaitAssigned(ctx context.Context) error
	// reply answers req with data (replyTo as given to the handler).
	reply(replyTo []byte, req *rawEvent, data json.RawMessage) error
	close()
}

// replyResult is what a pending request gets: its reply or why none comes.
type replyResult struct {
	ev  *rawEvent
	err error
}

// pendingReplies is a requester's correlation-ID map: an entry is added
// before the request is produced, and removed by its reply, its failed send
// or the caller giving up.
type pendingReplies struct {
	mu sync.Mutex
	m  map[string]chan replyResult
}

func newPendingReplies() *pendingReplies {
	return &pendingReplies{m: make(map[string]chan replyResult)}
}

func (p *pendingReplies) add(id string) chan replyResult {
	ch := make(chan replyResult, 1)
	p.mu.Lock()
	p.m[id] = ch
	p.mu.Unlock()
	return ch
}

// resolve hands res to the request id awaits, if it still does.
func (p *pendingReplies) resolve(id string, res replyResult) {
	p.mu.Lock()
	ch, ok := p.m[id]
	delete(p.m, id)
	p.mu.Unlock()
	if ok {
		ch <- res
	}
}

func (p *pendingReplies) forget(id string) {
	p.mu.Lock()
	delete(p.m, id)
	p.mu.Unlock()
}

func (p *pendingReplies) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// await waits for the reply to id on ch.
func (p *pendingReplies) await(ctx context.Context, id string, ch chan replyResult) (*rawEvent, error) {
	select {
	case res := <-ch:
		return res.ev, res.err
	case <-ctx.Done():
		p.forget(id)
		return nil, ctx.Err()
	}
}

// requester is a hand-written requester.
type requester interface {
	request(ctx context.Context, topic, event string, data json.RawMessage) (*rawEvent, error)
	// requestCounting is request that adds 1 to sent once the request is acked.
	requestCounting(ctx context.Context, topic, event string, data json.RawMessage, sent *atomic.Int64) (*rawEvent, error)
	pendingLen() int
	close()
}

// echo is the responder's handler of echoEvent: reply with the request's data.
func echo(s service) eventHandler {
	return func(ev *rawEvent, replyTo []byte) error { return s.reply(replyTo, ev, ev.Data) }
}

// startHandwrittenRR starts a hand-written side's responder (newService on
// the topic <prefix>-svc, as its group) and requester (<prefix>-client,
// reading <prefix>-client.replies) for request/reply.
func startHandwrittenRR(ctx context.Context, e *env, prefix string,
	newService func(topic string) (service, error),
	newRequester func(ctx context.Context, location, replyTopic string) (requester, error),
) (*rrSide, error) {
	svcTopic, client := e.name(prefix, "svc"), e.name(prefix, "client")
	side := &rrSide{responder: svcTopic, topics: []string{svcTopic, client + ".replies"}}
	if err := e.createTopics(ctx, side.topics...); err != nil {
		return nil, err
	}
	var (
		svc service
		req requester
	)
	err := parallel(
		func() error {
			var err error
			if svc, err = newService(svcTopic); err != nil {
				return err
			}
			svc.on(echoEvent, echo(svc))
			if err := svc.start(); err != nil {
				return err
			}
			return svc.awaitAssigned(ctx)
		},
		func() error {
			var err error
			req, err = newRequester(ctx, client, client+".replies")
			return err
		},
	)
	side.close = func() {
		_ = parallel(
			func() error {
				if svc != nil {
					svc.close()
				}
				return nil
			},
			func() error {
				if req != nil {
					req.close()
				}
				return nil
			})
	}
	if err != nil {
		side.close()
		e.deleteTopics(side.topics...)
		return nil, err
	}
	side.request = func(ctx context.Context, topic string) error {
		rep, err := req.request(ctx, topic, echoEvent, smallPayload)
		if err != nil {
			return err
		}
		return checkEcho(rep.Status, rep.Data)
	}
	return side, nil
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
