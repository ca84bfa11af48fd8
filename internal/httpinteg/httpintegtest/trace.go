package httpintegtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// TracedApp builds an app whose route GET /echo/:id awaits a reply to
// EventEcho from topic, with the framework's OpenTelemetry middleware (using
// tp) in front of the adapter's.
type TracedApp func(m *core.Manager, topic string, tp trace.TracerProvider) http.Handler

// OneTrace checks that an HTTP request -> Kafka -> a routed handler ->
// Reply -> back is one trace: the server span is the root, the request span
// its child, the responder's process span a child of the send span, and the
// reply's send span a child of the process span.
func OneTrace(t *testing.T, build TracedApp) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	resp := StartResponder(t, core.WithTracerProvider(tp))
	m := NewManager(t, "api", core.WithTracerProvider(tp))
	Start(t, m)
	srv := httptest.NewServer(build(m, resp.Location, tp))
	t.Cleanup(srv.Close)
	if code, body := Get(t, Client(t), srv.URL+"/echo/traced"); code != http.StatusOK {
		t.Fatalf("GET /echo/traced = %d %s", code, body)
	}

	var server sdktrace.ReadOnlySpan
	spans := map[string]sdktrace.ReadOnlySpan{}
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, s := range rec.Ended() {
			if s.SpanKind() == trace.SpanKindServer {
				server = s
			}
			spans[s.Name()] = s
		}
		if server != nil && spans["send "+m.Config().ReplyTopic] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans never all ended: have %d", len(spans))
		}
		time.Sleep(10 * time.Millisecond) // spans end asynchronously; no signal to wait on
	}
	trace := server.SpanContext().TraceID()
	chain := []struct{ child, parent string }{
		{"request " + resp.Location, ""},
		{"send " + resp.Location, "request " + resp.Location},
		{"process " + resp.Location, "send " + resp.Location},
		{"send " + m.Config().ReplyTopic, "process " + resp.Location},
	}
	for _, c := range chain {
		s := spans[c.child]
		if s == nil {
			t.Fatalf("no span %q", c.child)
		}
		if s.SpanContext().TraceID() != trace {
			t.Errorf("span %q is in trace %s, want the HTTP request's %s", c.child, s.SpanContext().TraceID(), trace)
		}
		want := server.SpanContext().SpanID()
		if c.parent != "" {
			want = spans[c.parent].SpanContext().SpanID()
		}
		if s.Parent().SpanID() != want {
			t.Errorf("span %q has parent %s, want %s", c.child, s.Parent().SpanID(), want)
		}
	}
}
