package core

import (
	"context"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/kafka-broker/kafka-broker-go/core"

// telemetry holds the OpenTelemetry instruments of a Manager. With the
// global no-op providers (nothing configured) spans do not record and
// metric callbacks never run.
type telemetry struct {
	tracer      trace.Tracer
	location    string
	group       string
	processName string // "process <Location>"
	prop        propagation.TextMapPropagator
	reqDuration metric.Float64Histogram
	reg         metric.Registration
}

// WithTracerProvider sets the tracer provider; the default is otel's global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider; the default is otel's global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.meterProvider = mp })
}

// WithPropagator sets how trace context is written to and read from record
// headers; the default is W3C Trace Context (the traceparent header).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(o *options) { o.propagator = p })
}

func (m *Manager) initTelemetry() error {
	tp, mp, prop := m.opts.tracerProvider, m.opts.meterProvider, m.opts.propagator
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	t := &m.tel
	t.tracer = tp.Tracer(instrumentationName)
	t.location, t.group = m.cfg.Location, m.cfg.GroupID
	t.processName = "process " + m.cfg.Location
	t.prop = prop
	meter := mp.Meter(instrumentationName)
	var err error
	if t.reqDuration, err = meter.Float64Histogram("kafka_broker.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Time from Request to its reply or failure, by outcome."),
		metric.WithExplicitBucketBoundaries(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)); err != nil {
		return err
	}
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, e := meter.Int64ObservableCounter(name, metric.WithDescription(desc))
		if e != nil && err == nil {
			err = e
		}
		return c
	}
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		g, e := meter.Int64ObservableGauge(name, metric.WithDescription(desc))
		if e != nil && err == nil {
			err = e
		}
		return g
	}
	produced := counter("kafka_broker.records.produced", "Records the broker acknowledged.")
	consumed := counter("kafka_broker.records.consumed", "Records read from the Location topic.")
	malformed := counter("kafka_broker.records.malformed", "Records that could not be decoded, by kind.")
	timeouts := counter("kafka_broker.request.timeouts", "Requests that ended with ErrReplyTimeout.")
	late := counter("kafka_broker.replies.late", "Replies that arrived after their request gave up.")
	duplicate := counter("kafka_broker.replies.duplicate", "Replies to a request that already got one; dropped.")
	forwarded := counter("kafka_broker.replies.forwarded", "Replies forwarded to the shared reply topic.")
	handlerErrors := counter("kafka_broker.handler.errors", "Failed handler attempts.")
	retries := counter("kafka_broker.handler.retries", "Handler attempts after the first.")
	dlq := counter("kafka_broker.dlq.writes", "Records written to the dead-letter topic.")
	evictions := counter("kafka_broker.storage.evictions", "Events the consumer storage evicted.")
	pending := gauge("kafka_broker.requests.pending", "Requests awaiting replies.")
	storageSize := gauge("kafka_broker.storage.size", "Events in the consumer storage.")
	lag := gauge("kafka_broker.consumer.lag", "Records not yet consumed, per partition of the Location topic.")
	if err != nil {
		return err
	}
	t.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := &m.stats
		o.ObserveInt64(produced, int64(s.produced.Load()))
		o.ObserveInt64(consumed, int64(s.consumed.Load()))
		for i, k := range malformedKinds {
			o.ObserveInt64(malformed, int64(s.malformed[i].Load()), metric.WithAttributes(attribute.String("kind", k)))
		}
		o.ObserveInt64(timeouts, int64(s.timeouts.Load()))
		o.ObserveInt64(late, int64(s.lateReplies.Load()))
		o.ObserveInt64(duplicate, int64(s.duplicateReplies.Load()))
		o.ObserveInt64(forwarded, int64(s.forwarded.Load()))
		o.ObserveInt64(handlerErrors, int64(s.handlerErrors.Load()))
		o.ObserveInt64(retries, int64(s.retries.Load()))
		o.ObserveInt64(dlq, int64(s.deadLettered.Load()))
		o.ObserveInt64(evictions, int64(s.storageEvicted.Load()))
		o.ObserveInt64(pending, int64(m.replies.pending.len()))
		o.ObserveInt64(storageSize, int64(m.storage.Len()))
		for _, l := range m.Lag() {
			o.ObserveInt64(lag, l.Lag, metric.WithAttributes(
				semconv.MessagingDestinationName(l.Topic),
				semconv.MessagingDestinationPartitionID(strconv.Itoa(int(l.Partition)))))
		}
		return nil
	}, produced, consumed, malformed, timeouts, late, duplicate, forwarded, handlerErrors, retries, dlq, evictions, pending, storageSize, lag)
	return err
}

// PartitionLag is how far the consumer is behind one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	Lag       int64 // high watermark minus the offset after the last record handled
}

// Lag reports the consumer's lag on each assigned partition of the Location
// topic: its high watermark, as of the latest fetches (no broker round trip),
// minus the offset after the last record handled, so records queued or held
// behind a paused partition count as behind.
func (m *Manager) Lag() []PartitionLag {
	m.lifeMu.RLock()
	f := m.fetcher
	m.lifeMu.RUnlock()
	if f == nil || m.state.Load() != stateRunning {
		return nil
	}
	lags := f.Lag()
	out := make([]PartitionLag, len(lags))
	for i, l := range lags {
		out[i] = PartitionLag{Topic: m.cfg.Location, Partition: l.Partition, Lag: l.Lag}
	}
	return out
}

// headerCarrier lets a propagator read and write Kafka headers.
type headerCarrier struct{ h *[]kafka.Header }

func (c headerCarrier) Get(key string) string {
	for _, h := range *c.h {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.h {
		if h.Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, kafka.Header{Key: key, Value: []byte(value)})
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, h := range *c.h {
		keys[i] = h.Key
	}
	return keys
}

// startSend starts the producer span of msg and writes its context to the
// headers. Name and attributes are given at the start, where samplers see
// them (the messaging conventions ask for it).
func (t *telemetry) startSend(ctx context.Context, msg *kafka.Message) (context.Context, trace.Span) {
	topic := *msg.TopicPartition.Topic
	key := string(msg.Key)
	ctx, span := t.tracer.Start(ctx, "send "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(topic),
			semconv.MessagingMessageID(key),
			semconv.MessagingKafkaMessageKey(key),
		))
	if span.SpanContext().IsValid() {
		t.prop.Inject(ctx, headerCarrier{&msg.Headers})
	}
	return ctx, span
}

// startProcess starts the consumer span of msg, a child of the trace its
// headers carry.
func (t *telemetry) startProcess(ctx context.Context, msg *kafka.Message) (context.Context, trace.Span) {
	if len(msg.Headers) > 0 {
		ctx = t.prop.Extract(ctx, headerCarrier{&msg.Headers})
	}
	topic := *msg.TopicPartition.Topic
	name := t.processName
	if topic != t.location {
		name = "process " + topic
	}
	return t.tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(topic),
			semconv.MessagingConsumerGroupName(t.group),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(msg.TopicPartition.Partition))),
			semconv.MessagingKafkaOffset(int(msg.TopicPartition.Offset)),
			semconv.MessagingMessageID(string(msg.Key)),
		))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// recordRequest records a Request's duration with its outcome.
func (t *telemetry) recordRequest(ctx context.Context, start time.Time, topic, outcome string) {
	if !t.reqDuration.Enabled(ctx) {
		return // no meter configured: skip building the attribute set
	}
	t.reqDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		semconv.MessagingDestinationName(topic), attribute.String("outcome", outcome)))
}
