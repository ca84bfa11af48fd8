package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// The public calls that send: Produce, Request and Reply.

// Produce sends ev to topic and returns once the broker acknowledged it, ctx
// ended or the send failed. The record carries ev as its value with an audit
// entry for this hop appended (ev itself is not changed) and the correlation
// ID as its key. Once the consumer runs, it also names this instance's reply
// topic in the kafka_replyTopic header, so that a Go responder's Reply to it
// reaches ConsumerStorage.Consume (the seed's way of asking). A topic that
// does not exist is an error wrapping ErrUnknownTopic. Produce works while Close drains handlers, so they can reply;
// it returns ErrClosed after.
func (m *Manager) Produce(ctx context.Context, topic string, ev *EventObject) error {
	msg, err := m.newMessage(topic, ev, -1)
	if err != nil {
		return err
	}
	if err := m.topicExists(ctx, topic); err != nil {
		return err
	}
	if m.state.Load() == stateRunning && !m.cfg.DisableReplyTopic {
		// The seed's way of asking is Produce, then ConsumerStorage.Consume:
		// a Go responder answers on the reply topic this instance reads.
		msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderReplyTopic, Value: []byte(m.cfg.ReplyTopic)})
	}
	m.replies.sent.add(ev.CorrelationID, sentByProduce)
	return m.deliver(ctx, msg)
}

func (m *Manager) newMessage(topic string, ev *EventObject, partition int32) (*kafka.Message, error) {
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	if ev == nil {
		return nil, errors.New("kafka-broker: produce: nil event")
	}
	if !ValidTopic(topic) {
		return nil, fmt.Errorf("kafka-broker: produce: invalid topic name %q", topic)
	}
	if ev.CorrelationID == "" {
		return nil, fmt.Errorf("kafka-broker: produce to %s: event %q has no correlation ID (use NewEventObject)", topic, ev.Event)
	}
	if hops := len(ev.AuditLog) + 1; m.cfg.MaxHops > 0 && hops > m.cfg.MaxHops {
		return nil, errorf("kafka-broker: produce to %s: event %q: %w: %d hops, MaxHops %d", topic, ev.Event, ErrHopLimit, hops, m.cfg.MaxHops)
	}
	// MarshalJSON directly: json.Marshal would re-scan its output, and the
	// encoder checks Data anyway (json.Valid only words the error).
	value, err := stampSent(ev, m.cfg.Location, time.Now()).MarshalJSON()
	if err != nil {
		if len(ev.Data) > 0 && !json.Valid(ev.Data) {
			return nil, fmt.Errorf("kafka-broker: produce to %s: event %q: data is not valid JSON", topic, ev.Event)
		}
		return nil, errorf("kafka-broker: produce to %s: encode event %q: %w", topic, ev.Event, err)
	}
	if partition < 0 {
		partition = kafka.PartitionAny
	}
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: partition},
		Key:            []byte(ev.CorrelationID),
		Value:          value,
		Headers:        []kafka.Header{{Key: HeaderCorrelationID, Value: []byte(ev.CorrelationID)}},
	}, nil
}

// deliver sends msg. Inside a handler (ctx carries its scope) it returns
// once the record is queued: the handled record's offset waits for the ack,
// and the next record of its partition is handled meanwhile (pipelined
// replies). Elsewhere it waits for the ack, bounded by ProduceTimeout when
// ctx has no deadline.
func (m *Manager) deliver(ctx context.Context, msg *kafka.Message) error {
	if sc := scopeOf(ctx, m.send); sc != nil && sc.add() {
		if err := sc.via.sendAsync(ctx, msg, sc.finish); err != nil {
			sc.complete(nil)
			return err
		}
		return nil
	}
	ctx, cancel := m.sendTimeout(ctx)
	defer cancel()
	return m.send.send(ctx, msg)
}

// ProduceAsync sends ev to topic without waiting for the broker's
// acknowledgement: it returns once the record is queued in the producer,
// and done (which may be nil) runs once with the outcome: nil when the
// broker acknowledged it, else the error, after retries of what a retry may
// fix. done runs on a library goroutine and must not block. The queue is
// bounded (librdkafka's queue.buffering.max.messages and .max.kbytes,
// 100,000 records and 64 MiB by default): when it is full ProduceAsync
// blocks until there is room or ctx ends. Flush waits for every send made
// so far. The record is built as Produce builds it; a topic that does not
// exist is an error at once.
func (m *Manager) ProduceAsync(ctx context.Context, topic string, ev *EventObject, done func(error)) error {
	msg, err := m.newMessage(topic, ev, -1)
	if err != nil {
		return err
	}
	if err := m.topicExists(ctx, topic); err != nil {
		return err
	}
	if done == nil {
		done = func(error) {}
	}
	m.replies.sent.add(ev.CorrelationID, sentByProduce)
	return m.send.sendAsync(ctx, msg, done)
}

// Flush waits until every ProduceAsync call so far (and every send of a
// handler) is acknowledged or failed, or ctx ends.
func (m *Manager) Flush(ctx context.Context) error {
	if err := m.checkOpen(); err != nil {
		return err
	}
	return m.send.flush(ctx)
}

// sendTimeout bounds a send by Config.ProduceTimeout when ctx has no deadline.
func (m *Manager) sendTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || m.cfg.ProduceTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.cfg.ProduceTimeout)
}

// topicExists fails fast, wrapping ErrUnknownTopic, when the brokers say
// topic does not exist; when they cannot say, the produce goes ahead (the
// producer waits for them).
func (m *Manager) topicExists(ctx context.Context, topic string) error {
	if m.autoCreate {
		return nil // Config.Kafka turned librdkafka's auto-creation on
	}
	if _, err := m.topics.require(ctx, topic); errors.Is(err, ErrUnknownTopic) {
		return errorf("kafka-broker: produce to %s: %w (create it first; this library never auto-creates topics)", topic, ErrUnknownTopic)
	}
	return nil
}

// Request produces ev to topic and waits for the reply with the same
// correlation ID. The wait ends with the reply, ErrReplyTimeout at ctx's
// deadline (or after Config.RequestTimeout when ctx has none), ctx's error
// when it is cancelled, or ErrClosed when the manager closes. The waiter is
// registered before the event is produced, so a fast reply is never missed.
//
// The request carries the kafka_replyTopic header (Config.ReplyTopic) so Go
// responders answer on the reply topic every instance reads; responders that
// ignore headers (the Python package) answer on the Location topic.
func (m *Manager) Request(ctx context.Context, topic string, ev *EventObject) (*EventObject, error) {
	switch m.state.Load() {
	case stateNew, stateStarting:
		return nil, ErrNotStarted
	case stateClosing, stateClosed:
		return nil, ErrClosed
	}
	if ev == nil {
		return nil, errors.New("kafka-broker: request: nil event")
	}
	if _, ok := ctx.Deadline(); !ok && m.cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.RequestTimeout)
		defer cancel()
	}
	msg, err := m.newMessage(topic, ev, -1)
	if err != nil {
		return nil, err
	}
	if err := m.topicExists(ctx, topic); err != nil {
		return nil, err
	}
	if !m.cfg.DisableReplyTopic {
		msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderReplyTopic, Value: []byte(m.cfg.ReplyTopic)})
	}
	w, err := m.replies.pending.add(ev.CorrelationID)
	if err != nil {
		return nil, errorf("kafka-broker: request %s to %s: %w", ev.CorrelationID, topic, err)
	}
	m.replies.sent.add(ev.CorrelationID, sentByRequest)
	start := time.Now()
	ctx, span := m.tel.tracer.Start(ctx, "request "+topic, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingDestinationName(topic),
			semconv.MessagingMessageID(ev.CorrelationID), attribute.String("kafka_broker.event", ev.Event)))
	reply, outcome, err := m.await(ctx, topic, ev, msg, w)
	m.tel.recordRequest(ctx, start, topic, outcome)
	endSpan(span, err)
	return reply, err
}

// sendRequest produces a request and waits for its ack, ctx's end, or
// the start of Close (which ends every waiting request with ErrClosed).
func (m *Manager) sendRequest(ctx context.Context, msg *kafka.Message) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(m.closingCtx, func() { cancel(ErrClosed) })
	defer stop()
	err := m.send.send(ctx, msg)
	if err != nil && errors.Is(context.Cause(ctx), ErrClosed) {
		return errorf("kafka-broker: request to %s: %w", *msg.TopicPartition.Topic, ErrClosed)
	}
	return err
}

// await produces a request and waits for its reply; outcome names how it ended.
func (m *Manager) await(ctx context.Context, topic string, ev *EventObject, msg *kafka.Message, w chan *EventObject) (*EventObject, string, error) {
	if err := m.sendRequest(ctx, msg); err != nil {
		m.replies.pending.remove(ev.CorrelationID, w)
		if errors.Is(err, context.DeadlineExceeded) {
			m.stats.timeouts.Add(1)
			return nil, "timeout", errorf("kafka-broker: request %s (event %q to %s): %w before the broker acknowledged it: %w",
				ev.CorrelationID, ev.Event, topic, ErrReplyTimeout, err)
		}
		if errors.Is(err, ErrClosed) {
			return nil, "closed", err
		}
		return nil, "produce_error", err
	}
	m.stats.requests.Add(1) // produced
	select {
	case reply := <-w:
		if reply == nil {
			return nil, "closed", errorf("kafka-broker: request %s to %s: %w", ev.CorrelationID, topic, ErrClosed)
		}
		return reply, "ok", nil
	case <-ctx.Done():
		if reply, ok := m.replies.pending.remove(ev.CorrelationID, w); ok {
			return reply, "ok", nil
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			m.stats.timeouts.Add(1)
			return nil, "timeout", errorf("kafka-broker: request %s (event %q to %s): %w", ev.CorrelationID, ev.Event, topic, ErrReplyTimeout)
		}
		return nil, "canceled", errorf("kafka-broker: request %s (event %q to %s): %w", ev.CorrelationID, ev.Event, topic, ctx.Err())
	}
}

// Reply answers req with data: the reply keeps req's correlation ID, event and
// audit log, gets status "completed", and goes where req asks, if the reply
// policy allows it: to the topic of its kafka_replyTopic header (a
// "*.replies" topic, or one in Config.ReplyTopicAllowList), else to the
// Location of its last audit entry, the sender's own topic, as the Python
// package expects, when that Location is in Config.ReplyTopicAllowList. It
// never writes to this service's own Location (unless this instance awaits
// the reply), to a dead-letter or internal topic, or to a topic that does not
// exist. A refused address is a permanent error wrapping
// ErrReplyTopicNotAllowed (ErrNoReplyAddress when req names none, ErrHopLimit
// when req went through MaxHops hops), and nothing is sent; a handler that
// returns it has its event dead-lettered with kind "reply_refused".
func (m *Manager) Reply(ctx context.Context, req *EventObject, data any) error {
	return m.reply(ctx, req, data, StatusCompleted)
}

// reply is Reply with the reply's status (ReplyError sends "error").
func (m *Manager) reply(ctx context.Context, req *EventObject, data any, status string) error {
	if req == nil {
		return errors.New("kafka-broker: reply to a nil request")
	}
	raw, err := encodeData(data)
	if err != nil {
		return errorf("kafka-broker: reply to %s: %w", req.CorrelationID, err)
	}
	if err := m.checkOpen(); err != nil {
		return err
	}
	t, err := m.policy.target(ctx, req, m.replies.awaits)
	if err != nil {
		if errors.Is(err, ErrReplyTopicNotAllowed) || errors.Is(err, ErrHopLimit) {
			m.stats.repliesRefused.Add(1)
			m.rlog.Warn("kafka-broker: reply refused", "correlation_id", req.CorrelationID, "event", req.Event, "error", err)
		}
		return err
	}
	if t.noSuchPartition >= 0 {
		m.rlog.Warn("kafka-broker: kafka_replyPartition names a partition the reply topic does not have; the reply is keyed instead",
			"reply_topic", t.topic, "partition", t.noSuchPartition, "correlation_id", req.CorrelationID)
	}
	reply := req.Clone()
	reply.meta = nil
	reply.Status = status
	reply.Data = raw
	msg, err := m.newMessage(t.topic, reply, t.partition)
	if err != nil {
		return err
	}
	m.stats.replies.Add(1)
	return m.deliver(ctx, msg)
}
