package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
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

// router is what both services share: the handlers by event name, and
// the signal of the first assignment.
type router struct {
	e        *env
	kind     string // "raw consumer", "franz-go consumer": in logs and errors
	location string // the topic consumed
	handlers map[string]eventHandler
	assigned chan struct{}
	once     sync.Once
}

func newRouter(e *env, kind, location string) *router {
	return &router{e: e, kind: kind, location: location, handlers: map[string]eventHandler{}, assigned: make(chan struct{})}
}

func (r *router) on(event string, h eventHandler) { r.handlers[event] = h }

// markAssigned notes that partitions were assigned.
func (r *router) markAssigned() { r.once.Do(func() { close(r.assigned) }) }

func (r *router) awaitAssigned(ctx context.Context) error {
	select {
	case <-r.assigned:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s of %s: no assignment: %w", r.kind, r.location, ctx.Err())
	}
}

// route decodes a record's value and calls the handler of its event.
func (r *router) route(value, replyTo []byte) {
	ev := new(rawEvent)
	if err := json.Unmarshal(value, ev); err != nil {
		r.e.log.Warn(r.kind+": bad record", "error", err)
		return
	}
	ev.received(time.Now())
	h, ok := r.handlers[ev.Event]
	if !ok {
		r.e.log.Warn(r.kind+": no handler", "event", ev.Event)
		return
	}
	if err := h(ev, replyTo); err != nil {
		r.e.log.Warn(r.kind+": handler failed", "event", ev.Event, "error", err)
	}
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

// expect registers a request about to be produced.
func (p *pendingReplies) expect(id string) chan replyResult {
	ch := make(chan replyResult, 1)
	p.mu.Lock()
	p.m[id] = ch
	p.mu.Unlock()
	return ch
}

// deliver decodes a record of the reply topic and hands it to the request
// awaiting it; anything else is dropped.
func (p *pendingReplies) deliver(value []byte) {
	ev := new(rawEvent)
	if err := json.Unmarshal(value, ev); err != nil {
		return
	}
	ev.received(time.Now())
	p.resolve(ev.CorrelationID, replyResult{ev: ev})
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

func (p *pendingReplies) pendingLen() int {
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
	// requestCounting produces an event and waits for its reply; it adds 1
	// to sent (when not nil) once the request is acked.
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
func startHandwrittenRR[S service, R requester](ctx context.Context, e *env, prefix string,
	newService func(topic string) (S, error),
	newRequester func(ctx context.Context, location, replyTopic string) (R, error),
) (*rrSide, error) {
	svcTopic, client := e.name(prefix, "svc"), e.name(prefix, "client")
	side := &rrSide{responder: svcTopic, topics: []string{svcTopic, client + ".replies"}}
	if err := e.createTopics(ctx, side.topics...); err != nil {
		return nil, err
	}
	var (
		svc service // set once started
		req requester
	)
	err := parallel(
		func() error {
			s, err := newService(svcTopic)
			if err != nil {
				return err
			}
			svc = s
			s.on(echoEvent, echo(s))
			if err := s.start(); err != nil {
				return err
			}
			return s.awaitAssigned(ctx)
		},
		func() error {
			r, err := newRequester(ctx, client, client+".replies")
			if err != nil {
				return err
			}
			req = r
			return nil
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
		rep, err := req.requestCounting(ctx, topic, echoEvent, smallPayload, nil)
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
