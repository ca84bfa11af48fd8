package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// This file is the franz-go side: hand-written github.com/twmb/franz-go/pkg/kgo
// code with the fastest sensible structure for each job, speaking the same
// wire format (wire.go), as the limit of what a Go program gets on this
// machine:
//
//   - requester: one producing client and one group-less consuming client
//     reading the reply topic from its end offsets (ConsumePartitions); a
//     request is produced without waiting for its ack (a failed ack fails the
//     request through the promise) and waits for its reply, matched by
//     correlation ID;
//   - service (the responder, and consume -> route -> commit): a group
//     consumer whose one poll loop handles a polled batch of records in order
//     (all partitions), sends every reply without waiting, waits for the
//     batch's acks, then marks the batch's offsets for the next auto-commit:
//     at-least-once, with the replies of a whole batch in flight together.
//
// Settings as the library's where franz-go has them: acks=all, idempotence
// (franz-go's defaults), linger 0 (franz-go's default is 10 ms), no
// compression (its default is snappy; librdkafka's none), fetch max wait
// 100 ms, offsets committed every second; no client metrics (KIP-714).
// -kafka does not reach this side.

// franzOpts are the client options every franz-go client of the bench gets.
func franzOpts(e *env, extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(strings.Split(e.bootstrap, ",")...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.FetchMaxWait(100 * time.Millisecond),
		// Like the library's ProduceTimeout: a send fails after 30 s.
		kgo.RecordDeliveryTimeout(30 * time.Second),
		// No KIP-714 client metrics: the embedded broker subscribes every
		// client, and franz-go's compressors for them (~4 MiB of lz4 state)
		// would sit in the Go heap that scenario e) measures (librdkafka's
		// are in C memory).
		kgo.DisableClientMetrics(),
	}, extra...)
}

// franzVersion is the franz-go module version this binary was built with.
func franzVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// franzRecord is a record of the wire format with the correlation ID as key
// and header, and the reply topic header when replyTopic is set.
func franzRecord(topic, id string, value []byte, replyTopic string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 1, 2)
	headers[0] = kgo.RecordHeader{Key: core.HeaderCorrelationID, Value: []byte(id)}
	if replyTopic != "" {
		headers = append(headers, kgo.RecordHeader{Key: core.HeaderReplyTopic, Value: []byte(replyTopic)})
	}
	return &kgo.Record{Topic: topic, Key: []byte(id), Value: value, Headers: headers}
}

// franzRequester produces requests and matches replies read from its reply
// topic by correlation ID.
type franzRequester struct {
	prod, cons *kgo.Client
	location   string
	replyTopic string
	*pendingReplies

	ctx    context.Context // the clients' lifetime: records are produced with it
	cancel context.CancelFunc
	polled chan struct{}
}

func newFranzRequester(ctx context.Context, e *env, location, replyTopic string) (*franzRequester, error) {
	prod, err := kgo.NewClient(franzOpts(e)...)
	if err != nil {
		return nil, err
	}
	// Start at the end offsets as they are now, so that no reply to a
	// request made after this returns is missed.
	ends, err := kadm.NewClient(prod).ListEndOffsets(ctx, replyTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("end offsets of %s: %w", replyTopic, err)
	}
	cons, err := kgo.NewClient(franzOpts(e, kgo.ConsumePartitions(ends.KOffsets()))...)
	if err != nil {
		prod.Close()
		return nil, err
	}
	r := &franzRequester{prod: prod, cons: cons, location: location, replyTopic: replyTopic,
		pendingReplies: newPendingReplies(), polled: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go func() { defer close(r.polled); r.poll() }()
	return r, nil
}

func (r *franzRequester) poll() {
	for {
		fs := r.cons.PollFetches(r.ctx)
		if fs.IsClientClosed() || r.ctx.Err() != nil {
			return
		}
		fs.EachRecord(func(rec *kgo.Record) { r.deliver(rec.Value) })
	}
}

// requestCounting produces an event and waits for its reply; it adds 1 to
// sent (when not nil) once the request is acked.
func (r *franzRequester) requestCounting(ctx context.Context, topic, event string, data json.RawMessage, sent *atomic.Int64) (*rawEvent, error) {
	id, value, err := encodeEvent(r.location, event, data)
	if err != nil {
		return nil, err
	}
	ch := r.expect(id)
	r.prod.Produce(r.ctx, franzRecord(topic, id, value, r.replyTopic), func(_ *kgo.Record, err error) {
		switch {
		case err != nil:
			r.resolve(id, replyResult{err: err})
		case sent != nil:
			sent.Add(1)
		}
	})
	return r.await(ctx, id, ch)
}

func (r *franzRequester) close() {
	r.cancel()
	<-r.polled
	r.cons.Close()
	r.prod.Close()
}

// franzService consumes a topic in a group and handles each polled batch in
// its poll loop; see the file comment.
type franzService struct {
	*router
	cl      *kgo.Client
	started bool

	ctx    context.Context // the poll loop's, cancelled by close
	cancel context.CancelFunc
	polled chan struct{}

	sends  sync.WaitGroup // replies of the batch being handled
	failed atomic.Int64   // of those, failed sends
}

func newFranzService(e *env, topic, group string) (*franzService, error) {
	s := &franzService{router: newRouter(e, "franz-go consumer", topic), polled: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cl, err := kgo.NewClient(franzOpts(e,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Second),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			s.markAssigned()
		}),
	)...)
	if err != nil {
		return nil, err
	}
	s.cl = cl
	return s, nil
}

func (s *franzService) start() error {
	s.started = true
	go func() { defer close(s.polled); s.poll() }()
	return nil
}

func (s *franzService) poll() {
	for {
		fs := s.cl.PollFetches(s.ctx)
		if fs.IsClientClosed() || s.ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.e.log.Warn("franz-go consumer", "topic", topic, "partition", p, "error", err)
			}
		})
		fs.EachRecord(s.handle)
		s.sends.Wait()
		if n := s.failed.Swap(0); n > 0 {
			// Never commit past a record whose reply was not acked: stop, as
			// a service would exit to have the batch redelivered.
			s.e.log.Error("franz-go consumer: replies failed, consumer stopped", "failed", n)
			return
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				s.cl.MarkCommitRecords(p.Records[n-1])
			}
		})
	}
}

func (s *franzService) handle(rec *kgo.Record) {
	var replyTo []byte
	for _, h := range rec.Headers {
		if h.Key == core.HeaderReplyTopic {
			replyTo = h.Value
		}
	}
	s.route(rec.Value, replyTo)
}

// reply sends data back to the requester without waiting: the poll loop
// waits for the acks of the whole batch.
func (s *franzService) reply(replyTo []byte, req *rawEvent, data json.RawMessage) error {
	value, err := encodeReply(s.location, req, data)
	if err != nil {
		return err
	}
	s.sends.Add(1)
	// Not s.ctx: close lets the batch being handled finish its sends.
	s.cl.Produce(context.Background(), franzRecord(replyAddress(replyTo, req), req.CorrelationID, value, ""), func(_ *kgo.Record, err error) {
		if err != nil {
			s.failed.Add(1)
			s.e.log.Warn("franz-go reply", "error", err)
		}
		s.sends.Done()
	})
	return nil
}

func (s *franzService) close() {
	s.cancel()
	if s.started {
		<-s.polled
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.cl.CommitMarkedOffsets(ctx); err != nil {
		s.e.log.Warn("franz-go consumer: commit", "error", err)
	}
	s.cl.Close()
}
