package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// Headers a redrive adds to the record it sends, and so to its dead letter
// should it fail again (the original headers are kept in a dead letter).
const (
	// HeaderDLTRedriveCount counts the redrives of a record: 1 on the
	// first redriven copy, 2 on the redriven copy of its dead letter, ...
	// RedriveOptions.MaxRedrives bounds it.
	HeaderDLTRedriveCount = "kafka_dlt-redrive-count"
	// HeaderDLTRedriveSource names the dead letter a record was redriven
	// from: "<dead-letter topic>/<partition>@<offset>".
	HeaderDLTRedriveSource = "kafka_dlt-redrive-source"
)

// ErrDeadLetterNotFound is returned by DeadLetters.Get when the topic holds
// no record at the partition and offset asked for.
var ErrDeadLetterNotFound = errors.New("kafka-broker: no dead letter at that position")

// DeadLetters reads and redrives the dead-letter topic of a service. Open
// it with OpenDeadLetters and Close it when done. Its methods are safe for
// concurrent use; Close waits for the calls in progress.
type DeadLetters struct {
	cfg    Config
	topic  string
	ledger string
	log    *slog.Logger
	admin  *kafka.AdminClient
	// prod carries admin; its events are drained until prodDone.
	prod     *kafka.Producer
	prodDone chan struct{}

	redrives metric.Int64Counter

	logs     chan kafka.LogEvent
	logsDone chan struct{}

	mu     sync.RWMutex // read-held by calls, write-held by Close
	closed bool
}

// OpenDeadLetters connects to the dead-letter topic of cfg: cfg.DeadLetterTopic,
// by default "<Location>.dlq". It uses cfg's BootstrapServers, Kafka properties
// (which override the library's defaults, as for a Manager) and MaxHops; the
// options WithLogger and WithMeterProvider apply. The redrive ledger is the
// topic "<dead-letter topic>.redrive" (see Redrive).
func OpenDeadLetters(cfg Config, opts ...Option) (*DeadLetters, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	mp := o.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	counter, err := mp.Meter(instrumentationName).Int64Counter("kafka_broker.dlq.redrives",
		metric.WithDescription("Dead letters a redrive handled, by kind and outcome (redriven, refused, failed)."))
	if err != nil {
		return nil, errorf("kafka-broker: telemetry: %w", err)
	}
	d := &DeadLetters{
		cfg:      cfg,
		topic:    cfg.DeadLetterTopic,
		ledger:   cfg.DeadLetterTopic + ".redrive",
		log:      o.logger,
		redrives: counter,
		logs:     make(chan kafka.LogEvent, 256),
		logsDone: make(chan struct{}),
	}
	if !ValidTopic(d.ledger) {
		return nil, &ConfigError{"DeadLetterTopic", "too long to name its redrive ledger " + strconv.Quote(d.ledger)}
	}
	go d.forwardLogs()
	// An admin client made on its own cannot forward its logs; one made
	// from a producer can. The producer sends nothing.
	p, err := kafka.NewProducer(d.clientConfig(kafka.ConfigMap{"go.events.channel.size": 100}))
	if err != nil {
		close(d.logs)
		<-d.logsDone
		return nil, errorf("kafka-broker: create admin client: %w", err)
	}
	d.prodDone = make(chan struct{})
	go func() {
		defer close(d.prodDone)
		for range p.Events() {
		}
	}()
	a, err := kafka.NewAdminClientFromProducer(p)
	if err != nil {
		p.Close()
		<-d.prodDone
		close(d.logs)
		<-d.logsDone
		return nil, errorf("kafka-broker: create admin client: %w", err)
	}
	d.prod, d.admin = p, a
	return d, nil
}

// Topic is the dead-letter topic.
func (d *DeadLetters) Topic() string { return d.topic }

// LedgerTopic is the compacted topic where Redrive records what it redrove.
func (d *DeadLetters) LedgerTopic() string { return d.ledger }

// Close releases the clients. It waits for calls in progress: cancel their
// ctx first to make them return early.
func (d *DeadLetters) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.admin.Close()
	d.prod.Close()
	<-d.prodDone
	close(d.logs)
	<-d.logsDone
	return nil
}

// enter marks a call in progress; leave ends it.
func (d *DeadLetters) enter() error {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (d *DeadLetters) leave() { d.mu.RUnlock() }

func (d *DeadLetters) clientConfig(defaults kafka.ConfigMap) *kafka.ConfigMap {
	return clientConf{brokers: d.cfg.BootstrapServers, logs: d.logs, user: d.cfg.Kafka}.with(defaults)
}

// forwardLogs writes librdkafka's logs to the logger, as a Manager does.
func (d *DeadLetters) forwardLogs() {
	defer close(d.logsDone)
	for e := range d.logs {
		level := slog.LevelDebug
		switch {
		case e.Level <= 3:
			level = slog.LevelError
		case e.Level == 4:
			level = slog.LevelWarn
		}
		d.log.Log(context.Background(), level, "librdkafka: "+e.Message, "client", e.Name, "tag", e.Tag)
	}
}

// newReader returns a consumer that reads committed records only and reports
// the end of each partition; group is its group (it never joins it; "" for a
// random one it never commits to).
func (d *DeadLetters) newReader(group string) (*kafka.Consumer, error) {
	if group == "" {
		group = "kafka-broker-dlq-reader-" + uuid.NewString()
	}
	c, err := kafka.NewConsumer(d.clientConfig(kafka.ConfigMap{
		"group.id":             group,
		"enable.auto.commit":   false,
		"auto.offset.reset":    "earliest",
		"isolation.level":      "read_committed",
		"enable.partition.eof": true,
		"fetch.wait.max.ms":    100,
	}))
	if err != nil {
		return nil, errorf("kafka-broker: create consumer: %w", err)
	}
	return c, nil
}

// topicLayout is what a read needs to know of a topic.
type topicLayout struct {
	partitions []int32
	id         string // the topic ID, "" when the brokers give none
}

// describe returns the partitions and ID of topic; an error wrapping
// ErrUnknownTopic when it does not exist.
func (d *DeadLetters) describe(ctx context.Context, topic string) (topicLayout, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs(ctx, 30*time.Second))*time.Millisecond)
	defer cancel()
	res, err := d.admin.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{topic}))
	if err != nil {
		if ctx.Err() != nil {
			return topicLayout{}, errorf("kafka-broker: describe topic %s (brokers %s): %w", topic, d.cfg.BootstrapServers, ctx.Err())
		}
		return topicLayout{}, errorf("kafka-broker: describe topic %s (brokers %s): %w", topic, d.cfg.BootstrapServers, err)
	}
	if len(res.TopicDescriptions) != 1 {
		return topicLayout{}, fmt.Errorf("kafka-broker: describe topic %s: %d results", topic, len(res.TopicDescriptions))
	}
	td := res.TopicDescriptions[0]
	switch td.Error.Code() {
	case kafka.ErrNoError:
	case kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic:
		return topicLayout{}, fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
	default:
		return topicLayout{}, errorf("kafka-broker: describe topic %s: %w", topic, td.Error)
	}
	l := topicLayout{}
	for _, p := range td.Partitions {
		l.partitions = append(l.partitions, int32(p.Partition))
	}
	if id := td.TopicID; id.GetMostSignificantBits() != 0 || id.GetLeastSignificantBits() != 0 {
		l.id = id.String()
	}
	return l, nil
}

// Partitions returns the number of partitions of the dead-letter topic.
func (d *DeadLetters) Partitions(ctx context.Context) (int, error) {
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	l, err := d.describe(ctx, d.topic)
	return len(l.partitions), err
}

// List calls fn with each dead letter that f matches, partition by
// partition in offset order, from the start of the topic to its end when
// List was called. Each entry says whether it was redriven (from the
// ledger) and why a redrive would refuse it. An error from fn stops List
// and is returned.
func (d *DeadLetters) List(ctx context.Context, f DeadLetterFilter, fn func(*DeadLetter) error) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	cf, err := f.compile()
	if err != nil {
		return err
	}
	l, err := d.describe(ctx, d.topic)
	if err != nil {
		return err
	}
	ledger, err := d.readLedger(ctx, l.id)
	if err != nil {
		return err
	}
	c, err := d.newReader("")
	if err != nil {
		return err
	}
	defer c.Close()
	check := defaultChecks(d.cfg)
	for _, p := range l.partitions {
		ss, err := ranges(ctx, c, d.topic, []int32{p}, nil)
		if err != nil {
			return err
		}
		err = scan(ctx, c, d.topic, ss, func(msg *kafka.Message) error {
			dl := decodeDeadLetter(msg)
			if !cf.match(dl) {
				return nil
			}
			dl.Redriven = ledger[ledgerKey(dl.Partition, dl.Offset)]
			dl.Refusal, dl.RefusalDetail = check.refusal(dl, false)
			return fn(dl)
		}, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// Get returns the dead letter at partition and offset, or an error wrapping
// ErrDeadLetterNotFound.
func (d *DeadLetters) Get(ctx context.Context, partition int32, offset int64) (*DeadLetter, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	l, err := d.describe(ctx, d.topic)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(l.partitions, partition) {
		return nil, fmt.Errorf("%w: %s has no partition %d (it has %d)", ErrDeadLetterNotFound, d.topic, partition, len(l.partitions))
	}
	c, err := d.newReader("")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ss, err := ranges(ctx, c, d.topic, []int32{partition}, nil)
	if err != nil {
		return nil, err
	}
	s := ss[0]
	if offset < s.start || offset >= s.end {
		return nil, fmt.Errorf("%w: %s/%d@%d (the partition holds offsets %d to %d)", ErrDeadLetterNotFound, d.topic, partition, offset, s.start, s.end-1)
	}
	s.start = offset
	var found *DeadLetter
	errFound := errors.New("found")
	err = scan(ctx, c, d.topic, []offsetRange{s}, func(msg *kafka.Message) error {
		if int64(msg.TopicPartition.Offset) == offset {
			found = decodeDeadLetter(msg)
		}
		return errFound // the first record at or after offset decides
	}, nil)
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s/%d@%d", ErrDeadLetterNotFound, d.topic, partition, offset)
	}
	ledger, err := d.readLedger(ctx, l.id)
	if err != nil {
		return nil, err
	}
	found.Redriven = ledger[ledgerKey(partition, offset)]
	found.Refusal, found.RefusalDetail = defaultChecks(d.cfg).refusal(found, false)
	return found, nil
}
