package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
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

// DeadLetter is one record of a dead-letter topic, decoded: the event when
// its value is one, every header, and what the kafka_dlt-* headers say.
type DeadLetter struct {
	// Topic, Partition and Offset are where the dead letter is.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is the record's timestamp: when it was dead-lettered.
	Timestamp time.Time `json:"timestamp"`
	// Key is the record key (the correlation ID, as the library writes it).
	Key string `json:"key"`
	// CorrelationID is the event's, else the key, else the
	// kafka_correlationId header.
	CorrelationID string `json:"correlation_id"`

	// Kind is HeaderDLTErrorKind: DeadLetterHandler, DeadLetterNoRoute, a
	// Malformed* kind, ...
	Kind string `json:"kind"`
	// Error is HeaderDLTError, the failure's text.
	Error string `json:"error"`
	// OriginalTopic, OriginalPartition and OriginalOffset are where the
	// record was consumed from (-1 when the headers lack them).
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition int32  `json:"original_partition"`
	OriginalOffset    int64  `json:"original_offset"`
	// Attempts is how often the handler ran (0: it never did).
	Attempts int `json:"attempts"`
	// Truncated lists what was cut to fit the dead-letter topic (key, value,
	// headers, error; HeaderDLTTruncated); OriginalSize is the original
	// record's size in bytes then, and ValueDropped says why none of the
	// value was kept.
	Truncated    []string `json:"truncated,omitempty"`
	OriginalSize int      `json:"original_size,omitempty"`
	ValueDropped string   `json:"value_dropped,omitempty"`
	// InvalidFields is HeaderDLTInvalidFields (kind "invalid"), a JSON array.
	InvalidFields json.RawMessage `json:"invalid_fields,omitempty"`
	// RedriveCount is how often the record was redriven before it was
	// dead-lettered this time (HeaderDLTRedriveCount; 0 when never).
	RedriveCount int `json:"redrive_count"`
	// RedriveSource is HeaderDLTRedriveSource: the dead letter the record
	// was redriven from when it was dead-lettered again.
	RedriveSource string `json:"redrive_source,omitempty"`

	// Event is the record's value decoded, when it is an event.
	Event *EventObject `json:"event,omitempty"`
	// DecodeError says why the value is not an event; RawValue then holds
	// it as text (bytes that are not UTF-8 are replaced in JSON).
	DecodeError string `json:"decode_error,omitempty"`
	RawValue    string `json:"raw_value,omitempty"`
	// Headers are all of the record's headers in order, kafka_dlt-* ones
	// included.
	Headers []DeadLetterHeader `json:"headers"`

	// Redriven tells when the dead letter was redriven, read from the
	// redrive ledger; nil when it never was.
	Redriven *RedriveRecord `json:"redriven,omitempty"`
	// Refusal is why a redrive with default options (and no --force) would
	// refuse the dead letter, one of the Refused* codes, the target topic
	// aside; "" when it would redrive it. RefusalDetail says it for people.
	Refusal       string `json:"refusal,omitempty"`
	RefusalDetail string `json:"refusal_detail,omitempty"`

	key     []byte
	value   []byte
	headers []kafka.Header
}

// DeadLetterHeader is one record header. Value holds the header's bytes.
type DeadLetterHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Cut reports whether the dead letter's key or value was cut, or its value
// dropped, to fit the dead-letter topic: it is no copy of the original
// record. A cut error text or cut headers (HeadersCut) leave key and value whole.
func (d *DeadLetter) Cut() bool {
	return d.ValueDropped != "" || slices.Contains(d.Truncated, "key") || slices.Contains(d.Truncated, "value")
}

// HeadersCut reports whether some of the original record's headers were
// dropped to fit the dead-letter topic.
func (d *DeadLetter) HeadersCut() bool { return slices.Contains(d.Truncated, "headers") }

// EventName is the event's routing key, "" when the value is not an event.
func (d *DeadLetter) EventName() string {
	if d.Event == nil {
		return ""
	}
	return d.Event.Event
}

// decodeDeadLetter reads a record of a dead-letter topic.
func decodeDeadLetter(msg *kafka.Message) *DeadLetter {
	d := &DeadLetter{
		Partition:         msg.TopicPartition.Partition,
		Offset:            int64(msg.TopicPartition.Offset),
		Timestamp:         msg.Timestamp,
		Key:               string(msg.Key),
		OriginalPartition: -1,
		OriginalOffset:    -1,
		Headers:           make([]DeadLetterHeader, 0, len(msg.Headers)),
		key:               msg.Key,
		value:             msg.Value,
		headers:           msg.Headers,
	}
	if msg.TopicPartition.Topic != nil {
		d.Topic = *msg.TopicPartition.Topic
	}
	var headerID string
	for _, h := range msg.Headers {
		v := string(h.Value)
		d.Headers = append(d.Headers, DeadLetterHeader{Key: h.Key, Value: v})
		if h.Key == HeaderCorrelationID {
			headerID = v
			continue
		}
		d.readHeader(h.Key, v)
	}
	d.decodeValue(msg.Value)
	for _, id := range []string{d.Key, headerID} {
		if d.CorrelationID == "" {
			d.CorrelationID = id
		}
	}
	return d
}

// readHeader keeps what a kafka_dlt-* header says.
func (d *DeadLetter) readHeader(key, v string) {
	switch key {
	case HeaderDLTError:
		d.Error = v
	case HeaderDLTErrorKind:
		d.Kind = v
	case HeaderDLTOriginalTopic:
		d.OriginalTopic = v
	case HeaderDLTOriginalPartition:
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			d.OriginalPartition = int32(n)
		}
	case HeaderDLTOriginalOffset:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d.OriginalOffset = n
		}
	case HeaderDLTAttempts:
		d.Attempts, _ = strconv.Atoi(v)
	case HeaderDLTTruncated:
		d.Truncated = nil
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				d.Truncated = append(d.Truncated, c)
			}
		}
	case HeaderDLTOriginalSize:
		d.OriginalSize, _ = strconv.Atoi(v)
	case HeaderDLTValueDropped:
		d.ValueDropped = v
	case HeaderDLTInvalidFields:
		if json.Valid([]byte(v)) {
			d.InvalidFields = json.RawMessage(v)
		}
	case HeaderDLTRedriveCount:
		d.RedriveCount, _ = strconv.Atoi(v)
	case HeaderDLTRedriveSource:
		d.RedriveSource = v
	}
}

// decodeValue decodes the dead letter's value as an event, or says why it
// is not one.
func (d *DeadLetter) decodeValue(value []byte) {
	ev, err := decodeEvent(value)
	if err != nil {
		d.DecodeError = err.Error()
		d.RawValue = string(value)
		if len(value) == 0 {
			d.DecodeError = "the value is empty"
		}
		return
	}
	d.Event = ev
	if ev.CorrelationID == "" {
		ev.CorrelationID = d.Key
	}
	d.CorrelationID = ev.CorrelationID
}

// DeadLetterFilter selects dead letters; every field that is set must
// match. The zero filter matches all.
type DeadLetterFilter struct {
	// Kinds matches dead letters of any of these kinds (HeaderDLTErrorKind).
	Kinds []string
	// Error matches dead letters whose error text contains it, ignoring case.
	Error string
	// Events matches dead letters whose event's routing key matches any of
	// these patterns, with the rules of EventRouter binds: "*" is exactly
	// one segment, "#" zero or more ("order.*", "order.#"). A dead letter
	// whose value is not an event matches no pattern.
	Events []string
	// Since and Until bound when the record was dead-lettered (its
	// timestamp): Since <= t < Until. Zero values do not bound.
	Since, Until time.Time
	// CorrelationID matches the event's correlation ID, the record key or
	// the kafka_correlationId header.
	CorrelationID string
}

// Validate reports the first invalid event pattern.
func (f DeadLetterFilter) Validate() error {
	_, err := f.compile()
	return err
}

// Match reports whether d passes the filter. An invalid filter matches nothing.
func (f DeadLetterFilter) Match(d *DeadLetter) bool {
	c, err := f.compile()
	return err == nil && c.match(d)
}

// IsZero reports whether the filter matches every dead letter.
func (f DeadLetterFilter) IsZero() bool {
	return len(f.Kinds) == 0 && f.Error == "" && len(f.Events) == 0 && f.Since.IsZero() && f.Until.IsZero() && f.CorrelationID == ""
}

type compiledFilter struct {
	f      DeadLetterFilter
	errLow string
	events []*EventRouter // one router per pattern, as a bind would match
}

func (f DeadLetterFilter) compile() (*compiledFilter, error) {
	c := &compiledFilter{f: f, errLow: strings.ToLower(f.Error)}
	nop := func(context.Context, *EventObject) error { return nil }
	for _, p := range f.Events {
		segs := strings.Split(p, ".")
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("kafka-broker: event pattern %q: empty segment", p)
			}
		}
		root := NewEventRouter("filter")
		r := root
		for _, s := range segs[:len(segs)-1] {
			child := NewEventRouter(s)
			r.IncludeBinder(child)
			r = child
		}
		r.BindEvent(segs[len(segs)-1], nop)
		c.events = append(c.events, root)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, fmt.Errorf("kafka-broker: filter: since (%s) is not before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return c, nil
}

func (c *compiledFilter) match(d *DeadLetter) bool {
	f := c.f
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, d.Kind) {
		return false
	}
	if c.errLow != "" && !strings.Contains(strings.ToLower(d.Error), c.errLow) {
		return false
	}
	if !f.Since.IsZero() && d.Timestamp.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !d.Timestamp.Before(f.Until) {
		return false
	}
	if f.CorrelationID != "" && f.CorrelationID != d.CorrelationID && f.CorrelationID != d.Key && !hasHeader(d.headers, HeaderCorrelationID, f.CorrelationID) {
		return false
	}
	if len(c.events) > 0 {
		name := d.EventName()
		if name == "" {
			return false
		}
		ok := false
		for _, r := range c.events {
			if _, ok = r.Match(name); ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func hasHeader(hs []kafka.Header, key, value string) bool {
	for _, h := range hs {
		if h.Key == key && string(h.Value) == value {
			return true
		}
	}
	return false
}

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
	c := kafka.ConfigMap{
		"bootstrap.servers":      d.cfg.BootstrapServers,
		"go.logs.channel.enable": true,
		"go.logs.channel":        d.logs,
	}
	for k, v := range defaults {
		c[k] = v
	}
	for k, v := range d.cfg.Kafka {
		c[k] = v
	}
	return &c
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

// offsetRange is a range of offsets of one partition to read: [start, end).
type offsetRange struct {
	partition  int32
	start, end int64
}

// ranges returns the range of each partition of topic from its first offset
// (or from[p] when given and later) to its end now.
func ranges(ctx context.Context, c *kafka.Consumer, topic string, partitions []int32, from map[int32]int64) ([]offsetRange, error) {
	out := make([]offsetRange, 0, len(partitions))
	for _, p := range partitions {
		low, high, err := c.QueryWatermarkOffsets(topic, p, timeoutMs(ctx, 30*time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, errorf("kafka-broker: offsets of %s/%d: %w", topic, p, err)
		}
		start := low
		if f, ok := from[p]; ok && f > start {
			start = min(f, high)
		}
		out = append(out, offsetRange{partition: p, start: start, end: high})
	}
	return out, nil
}

// authGrace is how long a refusal to read a topic may last before a scan
// gives up: an ACL just granted takes a moment to reach every broker.
const authGrace = 2 * time.Second

// scan reads the ranges of topic with c, calling fn with each record in
// offset order within its partition, until every range is read or ctx ends.
// A partition is done at its range's last offset, or at its end of data (a
// read_committed consumer stops before an open transaction). idle runs when
// a poll returned nothing.
func scan(ctx context.Context, c *kafka.Consumer, topic string, ss []offsetRange, fn func(*kafka.Message) error, idle func() error) error {
	pending := map[int32]int64{} // partition -> end
	var tps []kafka.TopicPartition
	for _, s := range ss {
		if s.start >= s.end {
			continue
		}
		pending[s.partition] = s.end
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: s.partition, Offset: kafka.Offset(s.start)})
	}
	if len(tps) == 0 {
		return nil
	}
	if err := c.Assign(tps); err != nil {
		return errorf("kafka-broker: assign %s: %w", topic, err)
	}
	defer func() { _ = c.Unassign() }()
	var refused kafka.Error // a READ refusal not followed by a record yet
	var refusedAt time.Time
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !refusedAt.IsZero() && time.Since(refusedAt) > authGrace {
			return errorf("kafka-broker: not authorized to read topic %s: %w; the principal needs READ on topic %s", topic, refused, topic)
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			refusedAt = time.Time{}
			if e.TopicPartition.Error != nil {
				return errorf("kafka-broker: read %s/%d: %w", topic, e.TopicPartition.Partition, e.TopicPartition.Error)
			}
			p, off := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			end, ok := pending[p]
			if !ok || off >= end {
				continue
			}
			if off >= end-1 {
				delete(pending, p)
			}
			if err := fn(e); err != nil {
				return err
			}
		case kafka.PartitionEOF:
			delete(pending, e.Partition)
		case kafka.Error:
			if e.Code() == kafka.ErrTopicAuthorizationFailed && refusedAt.IsZero() {
				refused, refusedAt = e, time.Now() // the client retries; an ACL just granted may still be on its way
			}
			if e.IsFatal() {
				return errorf("kafka-broker: read %s: %w", topic, e)
			}
		case nil:
			if idle != nil {
				if err := idle(); err != nil {
					return err
				}
			}
		}
	}
	return nil
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

// RedriveRecord is what the ledger knows of a redriven dead letter.
type RedriveRecord struct {
	// Times counts the redrives of this dead letter (more than 1 only when
	// forced).
	Times int `json:"times"`
	// At is when it was last redriven, and To where.
	At time.Time `json:"at"`
	To string    `json:"to"`
	// Forced: the last redrive overrode a refusal.
	Forced bool `json:"forced,omitempty"`
	// Job names the redrive job (see RedriveOptions.Job).
	Job string `json:"job,omitempty"`

	// For people reading the ledger topic.
	Topic         string `json:"dlq"`
	Partition     int32  `json:"partition"`
	Offset        int64  `json:"offset"`
	TopicID       string `json:"dlq_topic_id,omitempty"`
	Kind          string `json:"kind,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

func ledgerKey(partition int32, offset int64) string {
	return strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// readLedger reads the ledger topic to its end: the last record of each
// key. Records of another incarnation of the dead-letter topic (another
// topic ID) are ignored. A missing ledger is an empty one.
func (d *DeadLetters) readLedger(ctx context.Context, topicID string) (map[string]*RedriveRecord, error) {
	out := map[string]*RedriveRecord{}
	l, err := d.describe(ctx, d.ledger)
	if errors.Is(err, ErrUnknownTopic) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := d.newReader("")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ss, err := ranges(ctx, c, d.ledger, l.partitions, nil)
	if err != nil {
		return nil, err
	}
	err = scan(ctx, c, d.ledger, ss, func(msg *kafka.Message) error {
		key := string(msg.Key)
		if len(msg.Value) == 0 {
			delete(out, key) // a tombstone
			return nil
		}
		var r RedriveRecord
		if err := json.Unmarshal(msg.Value, &r); err != nil {
			d.log.Warn("kafka-broker: unreadable record in the redrive ledger; ignored", "topic", d.ledger,
				"offset", int64(msg.TopicPartition.Offset), "error", err)
			return nil
		}
		if topicID != "" && r.TopicID != "" && r.TopicID != topicID {
			return nil // the dead-letter topic was deleted and created again since
		}
		out[key] = &r
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}
