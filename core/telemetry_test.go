package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// TestTraceAcrossRequestReply: a request made inside a caller's span, the
// responder's handling and its reply form one trace.
func TestTraceAcrossRequestReply(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	respCfg := kafkatest.Config(t, "svc")
	startRouted(t, respCfg, echoRouter(), core.WithTracerProvider(tp))
	req := startManager(t, kafkatest.Config(t, "svc"), core.WithTracerProvider(tp))

	ctx, root := tp.Tracer("test").Start(kafkatest.Context(t, 60*time.Second), "GET /charge", trace.WithSpanKind(trace.SpanKindServer))
	ev, _ := core.NewEventObject("echo.call", map[string]int{"n": 7})
	if _, err := req.Request(ctx, respCfg.Location, ev); err != nil {
		t.Fatal(err)
	}
	root.End()

	// The responder's spans may end just after the reply was read.
	var spans []sdktrace.ReadOnlySpan
	waitFor(t, func() bool {
		spans = rec.Ended()
		n := 0
		for _, s := range spans {
			if s.SpanContext().TraceID() == root.SpanContext().TraceID() {
				n++
			}
		}
		return n >= 5
	})
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			continue
		}
		byName[s.Name()] = s
	}
	request := byName["request "+respCfg.Location]
	send := byName["send "+respCfg.Location]
	process := byName["process "+respCfg.Location]
	reply := byName["send "+req.Config().ReplyTopic]
	for name, s := range map[string]sdktrace.ReadOnlySpan{"request": request, "send": send, "process": process, "reply": reply} {
		if s == nil {
			names := []string{}
			for n := range byName {
				names = append(names, n)
			}
			t.Fatalf("no %s span in the trace; have %v", name, names)
		}
	}
	parent := func(child, of sdktrace.ReadOnlySpan) {
		t.Helper()
		if child.Parent().SpanID() != of.SpanContext().SpanID() {
			t.Errorf("%q's parent is %s, want %q (%s)", child.Name(), child.Parent().SpanID(), of.Name(), of.SpanContext().SpanID())
		}
	}
	parent(request, root.(sdktrace.ReadOnlySpan))
	parent(send, request)
	parent(process, send)
	parent(reply, process)
	if send.SpanKind() != trace.SpanKindProducer || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kinds: send %v process %v", send.SpanKind(), process.SpanKind())
	}
	attrs := map[string]string{}
	for _, a := range process.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["messaging.system"] != "kafka" || attrs["messaging.destination.name"] != respCfg.Location ||
		attrs["messaging.operation.type"] != "process" || attrs["messaging.message.id"] != ev.CorrelationID {
		t.Errorf("process span attributes: %v", attrs)
	}
}

// recordingSampler samples everything and remembers what each span showed
// the sampler at its start.
type recordingSampler struct {
	mu    sync.Mutex
	attrs map[string]map[string]string // span name -> attributes at start
}

func (s *recordingSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	attrs := map[string]string{}
	for _, a := range p.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	s.mu.Lock()
	s.attrs[p.Name] = attrs
	s.mu.Unlock()
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (s *recordingSampler) Description() string { return "recordingSampler" }

func (s *recordingSampler) at(name string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attrs[name]
	return a, ok
}

// TestSamplerSeesNamesAndAttributes: samplers decide at a span's start, so
// the request, send and process spans carry their name and messaging
// attributes from the start.
func TestSamplerSeesNamesAndAttributes(t *testing.T) {
	sampler := &recordingSampler{attrs: map[string]map[string]string{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler))
	defer tp.Shutdown(context.Background())

	respCfg := kafkatest.Config(t, "svc")
	startRouted(t, respCfg, echoRouter(), core.WithTracerProvider(tp))
	req := startManager(t, kafkatest.Config(t, "svc"), core.WithTracerProvider(tp))
	ev, _ := core.NewEventObject("echo.call", nil)
	if _, err := req.Request(kafkatest.Context(t, 60*time.Second), respCfg.Location, ev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok := sampler.at("send " + req.Config().ReplyTopic); return ok })
	for name, op := range map[string]string{
		"request " + respCfg.Location:     "",
		"send " + respCfg.Location:        "send",
		"process " + respCfg.Location:     "process",
		"send " + req.Config().ReplyTopic: "send",
	} {
		attrs, ok := sampler.at(name)
		if !ok {
			t.Errorf("the sampler saw no span %q", name)
			continue
		}
		dest := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(name, "request "), "send "), "process ")
		if attrs["messaging.system"] != "kafka" || attrs["messaging.destination.name"] != dest ||
			(op != "" && attrs["messaging.operation.type"] != op) {
			t.Errorf("span %q showed the sampler %v", name, attrs)
		}
	}
}

func TestMetricsAfterKnownSequence(t *testing.T) {
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	respCfg := kafkatest.Config(t, "svc")
	startRouted(t, respCfg, echoRouter())

	cfg := kafkatest.Config(t, "svc")
	cfg.MaxAttempts = 2
	m := startManager(t, cfg, core.WithMeterProvider(mp))
	r := core.NewEventRouter("root")
	r.BindEvent("fail", func(context.Context, *core.EventObject) error { return errors.New("no") })
	m.SetRouter(r)

	// 2 replies, 1 timeout, 1 malformed record, 1 event failing twice.
	for i := 0; i < 2; i++ {
		ev, _ := core.NewEventObject("echo.call", map[string]int{"n": i})
		if _, err := m.Request(kafkatest.Context(t, 60*time.Second), respCfg.Location, ev); err != nil {
			t.Fatal(err)
		}
	}
	ev, _ := core.NewEventObject("x", nil)
	silent := kafkatest.Topic(t, "svc", 1)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := m.Request(short, silent, ev); !errors.Is(err, core.ErrReplyTimeout) {
		t.Fatal(err)
	}
	rawProduce(t, cfg.Location, []byte("k"), []byte("{broken"))
	produceTo(t, m, cfg.Location, "fail")
	waitFor(t, func() bool { return m.Stats().DeadLettered == 2 })

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var durations map[string]uint64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					key := mt.Name
					if k, ok := p.Attributes.Value("kind"); ok {
						key += "/" + k.AsString()
					}
					got[key] += p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[mt.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				durations = map[string]uint64{}
				for _, p := range d.DataPoints {
					o, _ := p.Attributes.Value("outcome")
					durations[o.AsString()] += p.Count
				}
			}
		}
	}
	want := map[string]int64{
		"kafka_broker.request.timeouts":            1,
		"kafka_broker.records.malformed/not_json":  1,
		"kafka_broker.records.malformed/too_large": 0,
		"kafka_broker.handler.errors":              2,
		"kafka_broker.handler.retries":             1,
		"kafka_broker.dlq.writes":                  2,
		"kafka_broker.requests.pending":            0,
		"kafka_broker.replies.late":                0,
		"kafka_broker.records.consumed":            2,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if _, ok := got["kafka_broker.consumer.lag"]; !ok {
		t.Errorf("no consumer lag reported; have %v", got)
	}
	if durations["ok"] != 2 || durations["timeout"] != 1 {
		t.Errorf("request.duration counts by outcome = %v, want ok:2 timeout:1", durations)
	}
	if t.Failed() {
		names := []string{}
		for k := range got {
			names = append(names, k)
		}
		t.Log(strings.Join(names, " "))
	}
}
