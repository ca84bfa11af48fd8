package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/trace"
)

// sender owns the producer: it sends records and waits for their delivery
// reports, retries writes that must not be lost, and flushes on close.
// Concurrent sends share librdkafka's batches.
type sender struct {
	p       *kafka.Producer
	brokers string
	log     *slog.Logger
	rlog    *rateLogger
	tel     *telemetry
	stats   *counters

	// onError sees every error event of the producer (the start guard).
	onError func(kafka.Error)
	// final: async sends are not retried (a transactional producer's
	// failed send fails its transaction).
	final bool
	// limits tells a record refused with its batch from one refused for
	// its own size (batchsize.go); nil: every refusal is the record's.
	limits *sizeLimits
	// queued, when set, runs each time a record is handed to the producer
	// (a transactional producer's transaction then reached the brokers).
	queued func()

	mu     sync.RWMutex  // write-held while the producer closes
	closed chan struct{} // closed when the producer closes
	events chan struct{} // closed when the event loop ended

	// Sends that do not wait: their delivery reports come on acks, read by
	// ackLoop; stop ends their retries.
	acks     chan kafka.Event
	acksDone chan struct{}
	stop     context.Context
	asyncMu  sync.Mutex
	inflight int           // async sends not yet acknowledged
	idle     chan struct{} // closed when inflight drops to 0; nil while it is 0
}

// asyncSend is a record handed to the producer without waiting.
type asyncSend struct {
	msg   *kafka.Message
	topic string
	span  trace.Span
	done  func(error)
	retry *backoff.ExponentialBackOff
	// classified: this refusal for size was classified already;
	// batchRefusals counts the refusals with a batch.
	classified    bool
	batchRefusals int
}

func newSender(stop context.Context, p *kafka.Producer, brokers string, log *slog.Logger, tel *telemetry, stats *counters,
	onError func(kafka.Error)) *sender {
	s := &sender{p: p, brokers: brokers, log: log, rlog: newRateLogger(log), tel: tel, stats: stats, onError: onError,
		closed: make(chan struct{}), events: make(chan struct{}),
		acks: make(chan kafka.Event, 4096), acksDone: make(chan struct{}), stop: stop}
	go s.eventLoop()
	go s.ackLoop()
	return s
}

// sendAsync hands msg to the producer and returns once it is queued
// (waiting while the queue is full, until ctx ends). done runs once with the
// outcome, on the sender's ack goroutine: it must not block. A failure that
// a retry may fix is retried with backoff until the sender stops.
func (s *sender) sendAsync(ctx context.Context, msg *kafka.Message, done func(error)) error {
	_, span := s.tel.startSend(ctx, msg)
	a := &asyncSend{msg: msg, topic: *msg.TopicPartition.Topic, span: span, done: done}
	msg.Opaque = a
	s.track(1)
	if err := s.enqueue(ctx, msg, s.acks); err != nil {
		s.track(-1)
		endSpan(span, err)
		return err
	}
	return nil
}

// ackLoop completes async sends as their delivery reports come. It ends
// when the producer is destroyed.
func (s *sender) ackLoop() {
	defer close(s.acksDone)
	for e := range s.acks {
		if m, ok := e.(*kafka.Message); ok {
			if a, ok := m.Opaque.(*asyncSend); ok {
				s.acked(a, deliveryError(e))
			}
		}
	}
}

func (s *sender) acked(a *asyncSend, err error) {
	if sizeRefused(err) && s.limits != nil && !a.classified {
		// Refused for its own size or its batch's? Learning the topic's
		// limit may take a round trip: not on the ack goroutine.
		a.classified = true
		go func() { s.acked(a, s.limits.classify(s.stop, a.msg, err)) }()
		return
	}
	if errors.Is(err, errRefusedWithBatch) {
		a.batchRefusals++
	}
	if err != nil && !s.final && !permanentProduceError(err) && a.batchRefusals <= batchRetries &&
		!errors.Is(err, ErrClosed) && s.stop.Err() == nil {
		if a.retry == nil {
			a.retry = backoff.NewExponentialBackOff()
			a.retry.InitialInterval, a.retry.MaxInterval = 100*time.Millisecond, 5*time.Second
		}
		s.rlog.Warn("kafka-broker: write failed, retrying", "topic", a.topic, "error", err)
		time.AfterFunc(a.retry.NextBackOff(), func() {
			a.classified = false
			if err := s.enqueue(s.stop, a.msg, s.acks); err != nil {
				a.classified = true // refused before it was queued: not with a batch
				s.acked(a, err)
			}
		})
		return
	}
	switch {
	case err == nil:
		s.stats.produced.Add(1)
	case s.stop.Err() != nil && !permanentProduceError(err):
		err = errorf("kafka-broker: produce to %s: %w (%w)", a.topic, errShuttingDown, err)
	default:
		err = produceError(a.topic, err)
	}
	endSpan(a.span, err)
	a.done(err)
	s.track(-1)
}

// track counts async sends in flight, for flush.
func (s *sender) track(n int) {
	s.asyncMu.Lock()
	defer s.asyncMu.Unlock()
	if s.inflight == 0 && n > 0 {
		s.idle = make(chan struct{})
	}
	s.inflight += n
	if s.inflight == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// flush waits until every async send so far is acknowledged or failed.
func (s *sender) flush(ctx context.Context) error {
	s.asyncMu.Lock()
	idle, n := s.idle, s.inflight
	s.asyncMu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return errorf("kafka-broker: flush: %d sends not acknowledged: %w", n, ctx.Err())
	}
}

// eventLoop logs the producer's errors. Delivery reports go straight to the
// channel each send passes; this drains the rest of the producer's events
// and ends when the producer is closed.
func (s *sender) eventLoop() {
	defer close(s.events)
	for e := range s.p.Events() {
		if ev, ok := e.(kafka.Error); ok {
			if s.onError != nil {
				s.onError(ev) // wrong credentials, TLS: ends a start at once
			}
			switch {
			case ev.IsFatal():
				s.log.Error("kafka-broker: fatal producer error", "error", ev)
			case ev.Code() != kafka.ErrAllBrokersDown && ev.Code() != kafka.ErrTransport:
				s.rlog.Warn("kafka-broker: producer error", "error", ev)
			default:
				s.log.Debug("kafka-broker: producer connection error", "error", ev)
			}
		}
	}
}

// send produces msg and waits for its delivery report, ctx's end, or the
// producer's close. A record refused only for the size of the batch it was
// in is sent again (but not by a transactional producer: its transaction
// failed).
func (s *sender) send(ctx context.Context, msg *kafka.Message) error {
	reported, err := s.sendOnce(ctx, msg)
	// Only the brokers refuse batches; librdkafka refuses a record too
	// large for the producer before it is queued.
	for attempt := 1; reported && sizeRefused(err) && s.limits != nil; attempt++ {
		err = s.limits.classify(ctx, msg, err)
		if s.final || attempt > batchRetries || !errors.Is(err, errRefusedWithBatch) {
			return err
		}
		s.rlog.Warn("kafka-broker: a record was refused with its batch; sending it again",
			"topic", *msg.TopicPartition.Topic, "error", err)
		select {
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
		cp := *msg
		reported, err = s.sendOnce(ctx, &cp)
	}
	return err
}

// sendOnce produces msg and waits for its delivery report, ctx's end, or
// the producer's close; reported says the outcome is the delivery report's.
func (s *sender) sendOnce(ctx context.Context, msg *kafka.Message) (reported bool, err error) {
	ctx, span := s.tel.startSend(ctx, msg)
	defer func() { endSpan(span, err) }()
	// The delivery report comes straight from confluent-kafka-go's poller.
	done := make(chan kafka.Event, 1)
	topic := *msg.TopicPartition.Topic
	if err := s.enqueue(ctx, msg, done); err != nil {
		return false, err
	}
	select {
	case e := <-done:
		if err := deliveryError(e); err != nil {
			return true, produceError(topic, err)
		}
		s.stats.produced.Add(1)
		return true, nil
	case <-ctx.Done():
		// The record may still be delivered; the caller is told it is not known.
		return false, s.ctxError("produce to "+topic, ctxErr(ctx))
	case <-s.closed:
		select {
		case e := <-done:
			if err := deliveryError(e); err != nil {
				return true, produceError(topic, err)
			}
			return true, nil
		default:
			return false, errorf("kafka-broker: produce to %s: %w", topic, ErrClosed)
		}
	}
}

// enqueue hands msg to librdkafka, waiting while its queue is full.
func (s *sender) enqueue(ctx context.Context, msg *kafka.Message, done chan kafka.Event) error {
	topic := *msg.TopicPartition.Topic
	for {
		if ctx.Err() != nil {
			return s.ctxError("produce to "+topic, ctxErr(ctx))
		}
		err := s.produce(ctx, msg, done)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return s.ctxError("produce to "+topic, ctxErr(ctx))
		}
		var kerr kafka.Error
		if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrQueueFull {
			return errorf("kafka-broker: produce to %s: %w", topic, err)
		}
		// librdkafka's queue is full: wait for deliveries to make room.
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return s.ctxError("produce to "+topic, ctxErr(ctx))
		case <-s.closed:
			return errorf("kafka-broker: produce to %s: %w", topic, ErrClosed)
		}
	}
}

func (s *sender) produce(ctx context.Context, msg *kafka.Message, done chan kafka.Event) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	// Checked under the lock, so that barrier orders every send either
	// before it or after its ctx ended.
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.queued != nil {
		s.queued()
	}
	return s.p.Produce(msg, done)
}

// barrier returns once every send that found its ctx alive has reached
// librdkafka. A transaction ended after a handler's ctx was canceled (an
// abandoned handler) and a barrier holds all that handler sent, or nothing.
func (s *sender) barrier() {
	s.mu.Lock()
	defer s.mu.Unlock()
}

// sendUntilDone sends msg, retrying failures with backoff until it is
// acknowledged, fails permanently, or ctx ends (errShuttingDown).
func (s *sender) sendUntilDone(ctx context.Context, msg *kafka.Message) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		cp := *msg
		err := s.send(ctx, &cp)
		switch {
		case err == nil:
		case errors.Is(err, ErrClosed) || ctx.Err() != nil:
			return struct{}{}, backoff.Permanent(errShuttingDown)
		case permanentProduceError(err):
			return struct{}{}, backoff.Permanent(err)
		default:
			s.rlog.Warn("kafka-broker: write failed, retrying", "topic", *msg.TopicPartition.Topic, "error", err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil && ctx.Err() != nil {
		return errShuttingDown
	}
	return err
}

// ctxErr is ctx's error, with its cause when that says more
// (ErrHandlerAbandoned): errors.Is finds both.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if c := context.Cause(ctx); c != nil && !errors.Is(c, err) {
		return fmt.Errorf("%w: %w", c, err)
	}
	return err
}

// ctxError wraps a ctx error with what was being done and the brokers, so a
// dead broker is easy to recognise.
func (s *sender) ctxError(what string, err error) error {
	return errorf("kafka-broker: %s (brokers %s): %w", what, s.brokers, err)
}

// close flushes what is queued until ctx ends (the rest is purged and
// reported), then closes the producer: sends waiting for reports end with
// ErrClosed.
func (s *sender) close(ctx context.Context) error {
	var err error
	for s.p.Len() > 0 {
		if ctx.Err() != nil {
			err = errorf("kafka-broker: close: %d records not flushed: %w", s.p.Len(), ctx.Err())
			s.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
			break
		}
		s.p.Flush(100)
	}
	s.mu.Lock()
	close(s.closed)
	s.mu.Unlock()
	return err
}

// destroy releases the producer once nothing uses it any more.
func (s *sender) destroy() {
	s.p.Close()
	<-s.events
	close(s.acks) // no delivery report can come any more
	<-s.acksDone
}

// deliveryError is the outcome a delivery report carries; a topic that does
// not exist is an error wrapping ErrUnknownTopic.
func deliveryError(e kafka.Event) error {
	var err error
	switch ev := e.(type) {
	case *kafka.Message:
		err = ev.TopicPartition.Error
	case kafka.Error:
		err = ev
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) && (kerr.Code() == kafka.ErrUnknownTopicOrPart || kerr.Code() == kafka.ErrUnknownTopic) {
		return fmt.Errorf("%w: %w", ErrUnknownTopic, err)
	}
	return err
}

// errShuttingDown: a write was abandoned because the manager is closing.
var errShuttingDown = errors.New("kafka-broker: shutting down")

// permanentProduceError reports errors that retrying the same record cannot fix.
func permanentProduceError(err error) bool {
	if errors.Is(err, ErrUnknownTopic) {
		return true
	}
	if errors.Is(err, errRefusedWithBatch) {
		return false // sent again, in another batch, it can be written
	}
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return false
	}
	switch kerr.Code() {
	case kafka.ErrMsgSizeTooLarge, kafka.ErrRecordListTooLarge, kafka.ErrInvalidRecord, kafka.ErrInvalidMsg,
		kafka.ErrInvalidMsgSize, kafka.ErrTopicAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTopicException, kafka.ErrInvalidArg, kafka.ErrUnknownTopic,
		kafka.ErrPurgeQueue, kafka.ErrPurgeInflight: // purged by a close that gave up flushing
		return true
	}
	return false
}
