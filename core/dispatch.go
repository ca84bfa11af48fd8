package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
)

// dispatcher handles the records of the Location topic for the fetcher:
// decode once, check the hop limit, offer it to the replies, then hand it
// to the router (with retries) or the storage; what fails goes to the
// dead-letter topic.
type dispatcher struct {
	limits   dispatchLimits
	replies  *replies
	router   *atomic.Pointer[EventRouter] // the Manager's SetRouter
	storage  *ConsumerStorage
	dead     *deadLetters
	stats    *counters
	log      *slog.Logger
	rlog     *rateLogger
	tel      *telemetry
	send     *sender     // whose sends the handlers' scopes collect
	stopping func() bool // the manager is shutting down (or, exactly-once, the transaction is doomed)
	// txn, in exactly-once mode, takes the handlers' sends (txn.go).
	txn *transactor
}

// dispatchLimits are the Config fields the dispatcher obeys.
type dispatchLimits struct {
	maxRecordBytes int
	maxHops        int
	maxAttempts    int
	initialBackoff time.Duration
	maxBackoff     time.Duration
}

var _ fetch.Dispatcher = (*dispatcher)(nil)

// TakeEarly hands a reply awaited by a Request to its waiter at once, on
// the poll goroutine; a record taken so is consumed and handled.
func (d *dispatcher) TakeEarly(msg *kafka.Message) bool {
	if !d.replies.takeEarly(msg) {
		return false
	}
	d.stats.consumed.Add(1)
	d.stats.handled.Add(1)
	return true
}

func (d *dispatcher) Awaiting() bool { return d.replies.awaiting() }

// Handle dispatches one record. It reports false when the manager is
// shutting down before the record was handled, which leaves it
// uncommitted. The acks are those of what its handler sent, when any is
// still in flight.
func (d *dispatcher) Handle(ctx context.Context, msg *kafka.Message) (fetch.Acks, bool) {
	scope, ok := d.handle(ctx, msg)
	if !ok {
		return nil, false
	}
	if scope == nil || scope.empty() {
		return nil, true
	}
	return scope, true
}

// handle dispatches msg. It reports false when the manager is shutting
// down before the record was handled. The scope, when a handler ran, holds
// what it sent.
func (d *dispatcher) handle(base context.Context, msg *kafka.Message) (*sendScope, bool) {
	d.stats.consumed.Add(1)
	if d.txn != nil {
		if b, ok := d.txn.takeBlame(msg); ok {
			return nil, d.deadLetterBlamed(base, msg, b)
		}
	}
	received := time.Now()
	ev, err := decodeRecordAt(msg, d.limits.maxRecordBytes, received)
	if err != nil {
		var me *MalformedError
		kind := MalformedNotJSON
		if errors.As(err, &me) {
			kind = me.Kind
		}
		d.stats.malformed[malformedIndex(kind)].Add(1)
		d.rlog.Warn("kafka-broker: malformed record, dead-lettering", "topic", *msg.TopicPartition.Topic,
			"partition", msg.TopicPartition.Partition, "offset", int64(msg.TopicPartition.Offset),
			"kind", kind, "error", err)
		return nil, d.dead.write(base, msg, err, kind, 0)
	}
	if hops := len(ev.AuditLog); d.limits.maxHops > 0 && hops > d.limits.maxHops {
		d.stats.loops.Add(1)
		err := fmt.Errorf("%w: %d hops, MaxHops %d", ErrHopLimit, hops, d.limits.maxHops)
		d.rlog.Warn("kafka-broker: event went through too many hops, dead-lettering", "event", ev.Event,
			"correlation_id", ev.CorrelationID, "hops", hops, "max_hops", d.limits.maxHops)
		return nil, d.dead.write(base, msg, err, DeadLetterLoop, 0)
	}
	r := d.router.Load()
	switch d.replies.offer(msg, ev) {
	case replyDone:
		d.stats.handled.Add(1)
		return nil, true
	case replyAbandoned:
		return nil, false
	case replyStore:
		return nil, d.store(ev, msg)
	case replyUnsolicited:
		if r == nil {
			return nil, d.store(ev, msg) // the Python way: the storage takes what comes
		}
		// A reply nothing here awaits never reaches a handler as a new
		// request: that is how one record would start a reply loop.
		d.stats.unsolicitedReplies.Add(1)
		d.rlog.Warn("kafka-broker: reply that nothing awaits, dead-lettering", "event", ev.Event,
			"correlation_id", ev.CorrelationID, "status", ev.Status)
		return nil, d.dead.write(base, msg, fmt.Errorf("kafka-broker: %q reply to %s: nothing awaits it", ev.Status, ev.CorrelationID),
			DeadLetterUnsolicitedReply, 0)
	}
	if r == nil {
		return nil, d.store(ev, msg)
	}
	name, id := ev.Event, ev.CorrelationID // the handler may change ev
	ctx, span := d.tel.startProcess(base, msg)
	// The handler's Reply and Produce calls go through the scope: they return
	// once queued, and the record's offset waits for their acks.
	scope := d.newScope(base, msg)
	attempts, err := d.route(withScope(ctx, scope), r, ev, msg, received)
	scope.seal()
	endSpan(span, err)
	if err == nil {
		d.stats.handled.Add(1)
		return scope, true
	}
	if errors.Is(context.Cause(base), fetch.ErrAbandoned) {
		// The consumer gave up on this handler: the record is handled again
		// (by the partition's next owner, or after the rewind of an aborted
		// transaction), so a dead letter would be a second outcome.
		d.log.Debug("kafka-broker: abandoned handler returned", "event", name, "correlation_id", id, "error", err)
		return scope, false
	}
	if d.stopping() && !errors.Is(err, ErrNoRoute) {
		// Failed while Close drains (a Request it made got ErrClosed, say):
		// leave it uncommitted for the next owner rather than dead-letter it.
		return scope, false
	}
	d.rlog.Error("kafka-broker: event failed, dead-lettering", "event", name,
		"correlation_id", id, "attempts", attempts, "error", err)
	return scope, d.dead.write(base, msg, err, reasonOf(err), attempts)
}

// newScope returns the send scope of msg's handler: its sends go to the
// producer, or into the transaction.
func (d *dispatcher) newScope(base context.Context, msg *kafka.Message) *sendScope {
	if d.txn != nil {
		via := d.txn.sender()
		return newSendScope(d.send, via, func(err error) error { return d.txn.sendFailed(via, msg, err) })
	}
	return newSendScope(d.send, d.send, func(err error) error { return d.sendFailed(base, msg, err) })
}

// deadLetterBlamed dead-letters a record whose handling was aborted because
// a send of its handler, or its dead letter, was refused for good.
func (d *dispatcher) deadLetterBlamed(base context.Context, msg *kafka.Message, b blame) bool {
	d.rlog.Error("kafka-broker: a record's send failed in an aborted transaction, dead-lettering it", "kind", b.kind, "error", b.err)
	if b.cut {
		return d.dead.writeCut(base, msg, b.err, b.kind, 1, deadLetterMinCut)
	}
	return d.dead.write(base, msg, b.err, b.kind, 1)
}

// sendFailed deals with a send of a handler that failed for good after the
// handler returned (a reply the brokers refuse, say): the record is
// dead-lettered with kind "send_failed", as it would have been had the
// handler waited for the ack and returned the error. It returns nil when the
// dead letter was written.
func (d *dispatcher) sendFailed(base context.Context, msg *kafka.Message, err error) error {
	if base.Err() != nil {
		return errShuttingDown // the record is handled again
	}
	d.rlog.Error("kafka-broker: a handler's send failed, dead-lettering its record", "error", err)
	if !d.dead.write(base, msg, err, DeadLetterSendFailed, 1) {
		return errShuttingDown
	}
	return nil
}

func (d *dispatcher) store(ev *EventObject, msg *kafka.Message) bool {
	d.storage.put(ev, recordSize(msg))
	d.stats.stored.Add(1)
	d.stats.handled.Add(1)
	return true
}

// route runs the handler ev routes to, retrying failures with exponential
// backoff up to MaxAttempts; it returns how many attempts ran.
func (d *dispatcher) route(ctx context.Context, r *EventRouter, ev *EventObject, msg *kafka.Message, received time.Time) (int, error) {
	h, err := r.route(ev.Event)
	if err != nil {
		d.stats.noRoute.Add(1)
		return 0, Permanent(err)
	}
	var b *backoff.ExponentialBackOff
	for attempt := 1; ; attempt++ {
		err := d.call(ctx, h, ev)
		if err == nil {
			return attempt, nil
		}
		d.stats.handlerErrors.Add(1)
		if attempt >= d.limits.maxAttempts || IsPermanent(err) || errors.Is(err, ErrReplyTopicNotAllowed) || d.stopping() {
			return attempt, err
		}
		d.log.Debug("kafka-broker: handler failed", "event", ev.Event, "attempt", attempt, "error", err)
		if b == nil {
			b = backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval = d.limits.initialBackoff, d.limits.maxBackoff
			b.Reset()
		}
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempt, err
		}
		d.stats.retries.Add(1)
		// A fresh decode, received at the same time: the handler may have
		// changed the event it was given.
		if ev, err = decodeRecordAt(msg, d.limits.maxRecordBytes, received); err != nil {
			return attempt, Permanent(err)
		}
	}
}

// call runs h, turning a panic into an error.
func (d *dispatcher) call(ctx context.Context, h HandlerFunc, ev *EventObject) (err error) {
	defer func() {
		if p := recover(); p != nil {
			d.stats.panics.Add(1)
			d.log.Error("kafka-broker: handler panicked", "event", ev.Event, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("kafka-broker: handler for %q panicked: %v", ev.Event, p)
		}
	}()
	return h(ctx, ev)
}
