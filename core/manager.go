package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Kafka header names. The reply headers are the ones Spring Kafka and NestJS use.
const (
	HeaderCorrelationID  = "kafka_correlationId"
	HeaderReplyTopic     = "kafka_replyTopic"
	HeaderReplyPartition = "kafka_replyPartition"
	HeaderTraceParent    = "traceparent"
	// HeaderForwarded marks a reply one instance forwarded to the shared reply
	// topic because it did not await it.
	HeaderForwarded = "kafka_broker_forwarded"
)

const (
	stateNew int32 = iota
	stateStarting
	stateRunning
	stateClosing
	stateClosed
)

// Manager produces events, runs the consumer of its Location in the
// background, and matches replies to requests. Create it with NewManager,
// start consuming with InitConsumer, and stop with Close. It is safe for
// concurrent use.
type Manager struct {
	cfg     Config
	opts    options
	log     *slog.Logger
	storage *ConsumerStorage
	router  atomic.Pointer[EventRouter]
	stats   counters
	tel     telemetry

	producer   *kafka.Producer
	admin      *kafka.AdminClient
	prodMu     sync.RWMutex // write-held while the producer closes
	prodClosed chan struct{}
	prodDone   chan struct{} // delivery-report loop ended
	logs       chan kafka.LogEvent
	logsDone   chan struct{}

	pending *pendingRequests
	sent    *sentIDs

	startFail startFailure // an error that ends InitConsumer at once (startfail.go)

	state    atomic.Int32
	initMu   sync.Mutex
	closing  chan struct{} // closed when Close begins
	closeMu  sync.Mutex
	closeErr error

	lifeMu  sync.RWMutex // guards group against Lag while it starts or closes
	group   *groupConsumer
	replies *replyConsumer

	// handlerCtx is the parent of every handler's ctx; cancelled when Close
	// gives up waiting for handlers.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc
}

// NewManager validates cfg, applies defaults, and connects the producer. It
// does not consume until InitConsumer.
func NewManager(cfg Config, opts ...Option) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	m := &Manager{
		cfg:        cfg,
		opts:       o,
		log:        o.logger,
		pending:    newPendingRequests(cfg.MaxPendingRequests),
		sent:       newSentIDs(sentIDsCapacity),
		prodClosed: make(chan struct{}),
		prodDone:   make(chan struct{}),
		closing:    make(chan struct{}),
		logs:       make(chan kafka.LogEvent, 256),
		logsDone:   make(chan struct{}),
		startFail:  newStartFailure(),
	}
	go m.forwardLogs()
	m.storage = newConsumerStorage(cfg.StorageMaxEvents, cfg.StorageMaxAge, m.log, func(ev *EventObject) {
		m.stats.storageEvicted.Add(1)
		if o.onEvict != nil {
			o.onEvict(ev)
		}
	})
	m.handlerCtx, m.cancelHandler = context.WithCancel(NewContext(context.Background(), m))
	if err := m.initTelemetry(); err != nil {
		m.stopLogs()
		return nil, fmt.Errorf("kafka-broker: telemetry: %w", err)
	}

	maxMsg := 1_000_000 // librdkafka's default
	if need := cfg.MaxRecordBytes + 64<<10; need > maxMsg {
		maxMsg = need // room to dead-letter the largest accepted record with its headers
	}
	pc := m.clientConfig(kafka.ConfigMap{
		"message.max.bytes":  maxMsg,
		"enable.idempotence": true,
		"acks":               "all",
		// Every Produce waits for its ack, and a round trip is two produces:
		// lingering only adds latency (p50 ~3 ms -> ~0.7 ms, BENCHMARKS.md).
		// librdkafka still batches what accumulates while requests are in
		// flight. Config.Kafka["linger.ms"] = 5 trades latency for fewer,
		// larger produce requests.
		"linger.ms":                 0,
		"go.delivery.report.fields": "none",
		// confluent-kafka-go buffers 1,000,000 events and 1,000,000 ProduceChannel
		// messages by default: 24 MiB of Go heap per Manager, never used.
		"go.events.channel.size":  10_000,
		"go.produce.channel.size": 0,
	})
	p, err := kafka.NewProducer(pc)
	if err != nil {
		m.stopLogs()
		return nil, fmt.Errorf("kafka-broker: create producer: %w", err)
	}
	m.producer = p
	a, err := kafka.NewAdminClientFromProducer(p)
	if err != nil {
		p.Close()
		m.stopLogs()
		return nil, fmt.Errorf("kafka-broker: create admin client: %w", err)
	}
	m.admin = a
	go m.deliveryReports()
	return m, nil
}

// clientConfig merges the library's defaults for a client with the user's
// Kafka properties, which win.
func (m *Manager) clientConfig(defaults kafka.ConfigMap) *kafka.ConfigMap {
	c := kafka.ConfigMap{
		"bootstrap.servers":      m.cfg.BootstrapServers,
		"go.logs.channel.enable": true,
		"go.logs.channel":        m.logs,
	}
	for k, v := range defaults {
		c[k] = v
	}
	for k, v := range m.cfg.Kafka {
		c[k] = v
	}
	return &c
}

// Config returns the configuration in use, defaults applied.
func (m *Manager) Config() Config { return m.cfg }

// ConsumerStorage returns the storage that receives consumed events when no
// waiter awaits them and no router is set.
func (m *Manager) ConsumerStorage() *ConsumerStorage { return m.storage }

// SetRouter makes consumed events go to r instead of the storage. nil
// restores the storage. It may be called at any time.
func (m *Manager) SetRouter(r *EventRouter) { m.router.Store(r) }

// Router returns the router set with SetRouter, or nil.
func (m *Manager) Router() *EventRouter { return m.router.Load() }

// deliveryReports logs the producer's errors. Delivery reports go straight
// to the channel each Produce call passes; this loop drains the rest of the
// producer's events and ends when the producer is closed.
func (m *Manager) deliveryReports() {
	defer close(m.prodDone)
	for e := range m.producer.Events() {
		if ev, ok := e.(kafka.Error); ok {
			m.noteClientError(ev) // wrong credentials, TLS: ends a start at once
			switch {
			case ev.IsFatal():
				m.log.Error("kafka-broker: fatal producer error", "error", ev)
			case ev.Code() != kafka.ErrAllBrokersDown && ev.Code() != kafka.ErrTransport:
				m.log.Warn("kafka-broker: producer error", "error", ev)
			default:
				m.log.Debug("kafka-broker: producer connection error", "error", ev)
			}
		}
	}
}

func (m *Manager) checkOpen() error {
	if s := m.state.Load(); s >= stateClosed {
		return ErrClosed
	}
	return nil
}

// Produce sends ev to topic and returns once the broker acknowledged it, ctx
// ended or the send failed. The record carries ev as its value with an audit
// entry for this hop appended (ev itself is not changed) and the correlation
// ID as its key. Produce works while Close drains handlers, so they can reply;
// it returns ErrClosed after.
func (m *Manager) Produce(ctx context.Context, topic string, ev *EventObject) error {
	msg, err := m.newMessage(topic, ev, -1)
	if err != nil {
		return err
	}
	m.sent.add(ev.CorrelationID, sentByProduce)
	return m.produce(ctx, msg)
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
	// MarshalJSON directly: json.Marshal would re-scan its output, and the
	// encoder checks Data anyway (json.Valid only words the error).
	value, err := stampSent(ev, m.cfg.Location, time.Now()).MarshalJSON()
	if err != nil {
		if len(ev.Data) > 0 && !json.Valid(ev.Data) {
			return nil, fmt.Errorf("kafka-broker: produce to %s: event %q: data is not valid JSON", topic, ev.Event)
		}
		return nil, fmt.Errorf("kafka-broker: produce to %s: encode event %q: %w", topic, ev.Event, err)
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

// produce sends msg and waits for its delivery report.
func (m *Manager) produce(ctx context.Context, msg *kafka.Message) (err error) {
	ctx, span := m.startSend(ctx, msg)
	defer func() { endSpan(span, err) }()
	// The delivery report comes straight from confluent-kafka-go's poller,
	// without a hop through the Events() channel and deliveryReports.
	done := make(chan kafka.Event, 1)
	topic := *msg.TopicPartition.Topic
	for {
		if err := ctx.Err(); err != nil {
			return m.ctxError("produce to "+topic, err)
		}
		err := m.enqueue(msg, done)
		if err == nil {
			break
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
			// librdkafka's queue is full: wait for deliveries to make room.
			select {
			case <-time.After(5 * time.Millisecond):
				continue
			case <-ctx.Done():
				return m.ctxError("produce to "+topic, ctx.Err())
			}
		}
		return fmt.Errorf("kafka-broker: produce to %s: %w", topic, err)
	}
	select {
	case e := <-done:
		if err := deliveryError(e); err != nil {
			return produceError(topic, err)
		}
		m.stats.produced.Add(1)
		return nil
	case <-ctx.Done():
		// The record may still be delivered; the caller is told it is not known.
		return m.ctxError("produce to "+topic, ctx.Err())
	case <-m.prodClosed:
		select {
		case e := <-done:
			if err := deliveryError(e); err != nil {
				return produceError(topic, err)
			}
			return nil
		default:
			return fmt.Errorf("kafka-broker: produce to %s: %w", topic, ErrClosed)
		}
	}
}

// deliveryError is the outcome a delivery report carries.
func deliveryError(e kafka.Event) error {
	switch ev := e.(type) {
	case *kafka.Message:
		return ev.TopicPartition.Error
	case kafka.Error:
		return ev
	}
	return nil
}

func (m *Manager) enqueue(msg *kafka.Message, done chan kafka.Event) error {
	m.prodMu.RLock()
	defer m.prodMu.RUnlock()
	select {
	case <-m.prodClosed:
		return ErrClosed
	default:
	}
	return m.producer.Produce(msg, done)
}

// ctxError wraps a ctx error with what was being done and the brokers, so a
// dead broker is easy to recognise.
func (m *Manager) ctxError(what string, err error) error {
	return fmt.Errorf("kafka-broker: %s (brokers %s): %w", what, m.cfg.BootstrapServers, err)
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
	if !m.cfg.DisableReplyTopic {
		msg.Headers = append(msg.Headers, kafka.Header{Key: HeaderReplyTopic, Value: []byte(m.cfg.ReplyTopic)})
	}
	w, err := m.pending.add(ev.CorrelationID)
	if err != nil {
		return nil, fmt.Errorf("kafka-broker: request %s to %s: %w", ev.CorrelationID, topic, err)
	}
	m.sent.add(ev.CorrelationID, sentByRequest)
	m.stats.requests.Add(1)
	if n, ok := ctx.Value(awaitingKey{}).(*atomic.Int32); ok {
		// A handler awaits: its partition is read ahead for the reply
		// should its queue fill up meanwhile.
		n.Add(1)
		defer n.Add(-1)
	}
	start := time.Now()
	ctx, span := m.tel.tracer.Start(ctx, "request "+topic, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.MessagingSystemKafka, semconv.MessagingDestinationName(topic),
			semconv.MessagingMessageID(ev.CorrelationID), attribute.String("kafka_broker.event", ev.Event)))
	reply, outcome, err := m.await(ctx, topic, ev, msg, w)
	m.recordRequest(ctx, start, topic, outcome)
	endSpan(span, err)
	return reply, err
}

// await produces a request and waits for its reply; outcome names how it ended.
func (m *Manager) await(ctx context.Context, topic string, ev *EventObject, msg *kafka.Message, w chan *EventObject) (*EventObject, string, error) {
	if err := m.produce(ctx, msg); err != nil {
		m.pending.remove(ev.CorrelationID, w)
		if errors.Is(err, context.DeadlineExceeded) {
			m.stats.timeouts.Add(1)
			return nil, "timeout", fmt.Errorf("kafka-broker: request %s (event %q to %s): %w before the broker acknowledged it: %v",
				ev.CorrelationID, ev.Event, topic, ErrReplyTimeout, err)
		}
		return nil, "produce_error", err
	}
	select {
	case reply := <-w:
		if reply == nil {
			return nil, "closed", fmt.Errorf("kafka-broker: request %s to %s: %w", ev.CorrelationID, topic, ErrClosed)
		}
		return reply, "ok", nil
	case <-ctx.Done():
		if reply, ok := m.pending.remove(ev.CorrelationID, w); ok {
			return reply, "ok", nil
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			m.stats.timeouts.Add(1)
			return nil, "timeout", fmt.Errorf("kafka-broker: request %s (event %q to %s): %w", ev.CorrelationID, ev.Event, topic, ErrReplyTimeout)
		}
		return nil, "canceled", fmt.Errorf("kafka-broker: request %s (event %q to %s): %w", ev.CorrelationID, ev.Event, topic, ctx.Err())
	}
}

// Reply answers req with data: the reply keeps req's correlation ID, event and
// audit log, gets status "completed", and goes to the topic named by req's
// kafka_replyTopic header when the allow-list permits it (topics ending in
// ".replies" and Config.ReplyTopicAllowList), else to the Location of req's
// last audit entry, the sender's own topic, as the Python package expects.
// A reply topic the allow-list refuses is an error wrapping
// ErrReplyTopicNotAllowed, and nothing is sent.
func (m *Manager) Reply(ctx context.Context, req *EventObject, data any) error {
	if req == nil {
		return errors.New("kafka-broker: reply to a nil request")
	}
	raw, err := encodeData(data)
	if err != nil {
		return fmt.Errorf("kafka-broker: reply to %s: %w", req.CorrelationID, err)
	}
	topic, partition, err := m.replyAddress(req)
	if err != nil {
		return err
	}
	reply := req.Clone()
	reply.meta = nil
	reply.Status = StatusCompleted
	reply.Data = raw
	msg, err := m.newMessage(topic, reply, partition)
	if err != nil {
		return err
	}
	m.stats.replies.Add(1)
	return m.produce(ctx, msg)
}

func (m *Manager) replyAddress(req *EventObject) (string, int32, error) {
	if rt := req.ReplyTopic(); rt != "" {
		if !m.replyTopicAllowed(rt) {
			m.log.Warn("kafka-broker: refused reply topic not in the allow-list",
				"reply_topic", rt, "correlation_id", req.CorrelationID, "event", req.Event)
			return "", 0, Permanent(fmt.Errorf("kafka-broker: reply to %s: topic %q: %w", req.CorrelationID, rt, ErrReplyTopicNotAllowed))
		}
		return rt, req.meta.replyPartition, nil
	}
	if n := len(req.AuditLog); n > 0 && req.AuditLog[n-1].Location != "" {
		return req.AuditLog[n-1].Location, -1, nil
	}
	return "", 0, Permanent(fmt.Errorf("kafka-broker: reply to %s: %w", req.CorrelationID, ErrNoReplyAddress))
}

func (m *Manager) replyTopicAllowed(t string) bool {
	if !ValidTopic(t) {
		return false
	}
	if t == m.cfg.ReplyTopic || hasSuffix(t, ".replies") {
		return true
	}
	for _, a := range m.cfg.ReplyTopicAllowList {
		if a == t {
			return true
		}
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix
}

func parsePartition(b []byte) int32 {
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil || n < 0 {
		return -1
	}
	return int32(n)
}

// forwardLogs writes librdkafka's logs to the logger: syslog levels 0-3 as
// errors, 4 as warnings, the rest (mostly connection chatter) as debug.
func (m *Manager) forwardLogs() {
	defer close(m.logsDone)
	for e := range m.logs {
		level := slog.LevelDebug
		switch {
		case e.Level <= 3:
			level = slog.LevelError
		case e.Level == 4:
			level = slog.LevelWarn
		}
		m.log.Log(context.Background(), level, "librdkafka: "+e.Message, "client", e.Name, "tag", e.Tag)
	}
}

// stopLogs ends forwardLogs once no client can log any more.
func (m *Manager) stopLogs() {
	close(m.logs)
	<-m.logsDone
}
