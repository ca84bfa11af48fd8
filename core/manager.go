package core

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
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
//
// A Manager wires small parts, each in its own file and knowing only what it
// is given: the sender (producer, acks), the replies (pending requests, the
// reply consumer, forwarding), the dispatcher (decode, route, retry), the
// dead letters, and the fetcher (core/internal/fetch: group membership,
// per-partition workers, flow control, offsets). See the package doc for the
// path of a record and of a request.
type Manager struct {
	cfg     Config
	opts    options
	log     *slog.Logger
	rlog    *rateLogger // for what records cause, one line a second at most
	stats   counters
	tel     telemetry
	router  atomic.Pointer[EventRouter]
	storage *ConsumerStorage

	clients  clientConf // what every librdkafka client of the Manager shares
	logs     *logForwarder
	send     *sender
	admin    *admin
	topics   *topicDirectory
	policy   *replyPolicy
	replies  *replies
	dispatch *dispatcher
	txn      *transactor // Config.Transactional: the transactional producer
	guard    *startGuard // errors that end InitConsumer at once
	// autoCreate: Config.Kafka sets allow.auto.create.topics=true, so
	// Produce and Request to a missing topic let the broker create it.
	autoCreate bool

	state      atomic.Int32
	initMu     sync.Mutex
	closing    chan struct{}   // closed when Close begins
	closingCtx context.Context // done when Close begins
	closeMu    sync.Mutex
	closeErr   error

	lifeMu     sync.RWMutex // guards the consumers against Lag while they start or close
	fetcher    *fetch.Fetcher
	groups     []*groupClient // every group consumer started, to be released
	replyFetch *replyConsumer

	// handlerCtx is the parent of every handler's ctx; canceled when Close
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
	m := &Manager{cfg: cfg, opts: o, log: o.logger, rlog: newRateLogger(o.logger), closing: make(chan struct{})}
	var cancelClosing context.CancelFunc
	m.closingCtx, cancelClosing = context.WithCancel(context.Background())
	go func() { <-m.closing; cancelClosing() }() // ends with Close
	m.logs = newLogForwarder(m.log)
	m.clients = clientConf{brokers: cfg.BootstrapServers, logs: m.logs.ch, user: cfg.Kafka}
	limits := storageLimits{maxEvents: cfg.StorageMaxEvents, maxBytes: cfg.StorageMaxBytes, maxAge: cfg.StorageMaxAge}
	m.storage = newConsumerStorage(limits, m.log, func(ev *EventObject) {
		m.stats.storageEvicted.Add(1)
		if o.onEvict != nil {
			o.onEvict(ev)
		}
	})
	m.handlerCtx, m.cancelHandler = context.WithCancel(NewContext(context.Background(), m))
	fail := func(err error) (*Manager, error) {
		close(m.closing)
		m.cancelHandler()
		m.logs.stop()
		return nil, err
	}
	if err := m.initTelemetry(); err != nil {
		return fail(errorf("kafka-broker: telemetry: %w", err))
	}

	maxMsg := 1_000_000 // librdkafka's default
	if need := cfg.MaxRecordBytes + 64<<10; need > maxMsg {
		maxMsg = need // room to dead-letter the largest accepted record with its headers
	}
	pc := m.clients.with(kafka.ConfigMap{
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
		// No record this producer writes creates a topic: a reply's address
		// comes from whoever wrote the request (see replyPolicy).
		"allow.auto.create.topics": false,
		// Bounds what async sends (pipelined replies, ProduceAsync) may
		// queue: 64 MiB rather than librdkafka's 1 GiB.
		"queue.buffering.max.kbytes": 65536,
		// One produce request in flight per broker: with more, librdkafka's
		// idempotent producer can report records of a request the broker
		// refused (NOT_LEADER on a new or re-elected partition) as delivered
		// when a later request to the partition succeeds ("implicitly acked
		// by subsequent batch success", confluent-kafka-go issue #921): an
		// acknowledged record that is not in the log. Found by
		// TestProduceAsyncAndFlush on Kafka 4.1.2. Batching is unaffected:
		// what queues while a request is in flight goes in the next one.
		"max.in.flight.requests.per.connection": 1,
	})
	p, err := kafka.NewProducer(pc)
	if err != nil {
		return fail(errorf("kafka-broker: create producer: %w", err))
	}
	a, err := kafka.NewAdminClientFromProducer(p)
	if err != nil {
		p.Close()
		return fail(errorf("kafka-broker: create admin client: %w", err))
	}
	if v, _ := pc.Get("allow.auto.create.topics", nil); v == true || v == "true" {
		m.autoCreate = true
	}
	if cfg.Transactional {
		if m.txn, err = newTransactor(m, maxMsg); err != nil {
			a.Close()
			p.Close()
			return fail(err)
		}
	}
	m.wire(p, a)
	return m, nil
}

// wire builds the parts around the producer and its admin client.
func (m *Manager) wire(p *kafka.Producer, a *kafka.AdminClient) {
	cfg := m.cfg
	m.guard = newStartGuard(cfg, func() bool { s := m.state.Load(); return s == stateStarting || s == stateNew })
	m.send = newSender(m.closingCtx, p, cfg.BootstrapServers, m.log, &m.tel, &m.stats, m.guard.noteClient)
	m.admin = &admin{a: a, brokers: cfg.BootstrapServers, log: m.log, closing: m.closing, startErr: m.guard.take}
	m.topics = newTopicDirectory(m.admin.describeTopic)
	m.send.limits = newSizeLimits(m.admin.maxMessageBytes)
	if m.txn != nil {
		m.txn.setLimits(m.send.limits)
	}
	m.policy = newReplyPolicy(cfg, m.topics)
	m.replies = &replies{
		location: cfg.Location,
		shared:   cfg.Location + ".replies",
		maxBytes: cfg.MaxRecordBytes,
		pending:  newPendingRequests(cfg.MaxPendingRequests),
		sent:     newSentIDs(sentIDsCapacity),
		storage:  m.storage,
		send:     m.send,
		stats:    &m.stats,
		rlog:     m.rlog,
		late:     m.opts.lateReply,
		stop:     m.handlerCtx,
	}
	dead := &deadLetters{topic: cfg.DeadLetterTopic, disabled: cfg.DisableDeadLetter, sender: m.producer,
		stats: &m.stats, rlog: m.rlog}
	stopping := m.shuttingDown
	if m.txn != nil { // dead letters into the transaction; handlers stop early when it is doomed
		dead.sender, dead.failed = m.txn.sender, m.txn.deadLetterFailed
		stopping = func() bool { return m.shuttingDown() || m.txn.doomed.Load() }
	}
	m.dispatch = &dispatcher{
		limits: dispatchLimits{maxRecordBytes: cfg.MaxRecordBytes, maxHops: cfg.MaxHops, maxAttempts: cfg.MaxAttempts,
			initialBackoff: cfg.InitialBackoff, maxBackoff: cfg.MaxBackoff},
		replies:  m.replies,
		router:   &m.router,
		storage:  m.storage,
		dead:     dead,
		stats:    &m.stats,
		log:      m.log,
		rlog:     m.rlog,
		tel:      &m.tel,
		send:     m.send,
		stopping: stopping,
		txn:      m.txn,
	}
}

// producer is the sender of the Manager's own producer.
func (m *Manager) producer() *sender { return m.send }

// rebootstrapAfter: a client that knows no broker any more bootstraps
// again after this long.
const rebootstrapAfter = 5 * time.Second

// clientConf is what every librdkafka client of a Manager shares: the
// brokers, the log channel, and the user's properties, which win over the
// library's defaults.
type clientConf struct {
	brokers string
	logs    chan kafka.LogEvent
	user    map[string]any
}

// with merges a client's defaults with the shared settings.
func (c clientConf) with(defaults kafka.ConfigMap) *kafka.ConfigMap {
	m := kafka.ConfigMap{
		"bootstrap.servers":      c.brokers,
		"go.logs.channel.enable": true,
		"go.logs.channel":        c.logs,
		// librdkafka drops the brokers a metadata response does not list; a
		// broker fenced for a moment (back from a freeze or a restart)
		// lists none, and a client left without brokers bootstraps again
		// only after this long (librdkafka's default: five minutes, during
		// which a responder answered nothing).
		"metadata.recovery.rebootstrap.trigger.ms": int(rebootstrapAfter / time.Millisecond),
	}
	for k, v := range defaults {
		m[k] = v
	}
	for k, v := range c.user {
		m[k] = v
	}
	return &m
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

func (m *Manager) checkOpen() error {
	if s := m.state.Load(); s >= stateClosed {
		return ErrClosed
	}
	return nil
}

func (m *Manager) shuttingDown() bool {
	return m.state.Load() >= stateClosing || m.handlerCtx.Err() != nil
}
