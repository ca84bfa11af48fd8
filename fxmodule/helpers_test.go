package fxmodule_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Joining a consumer group takes a few seconds, more on a busy machine.
const startTimeout = 60 * time.Second

// newApp returns a started fxtest app with Module, cfg and a test logger.
func newApp(t *testing.T, cfg core.Config, opts ...fx.Option) *fxtest.App {
	t.Helper()
	all := append([]fx.Option{
		fx.Supply(cfg, kafkatest.Logger()),
		fxmodule.Module,
		fx.StartTimeout(startTimeout),
		fx.StopTimeout(startTimeout),
	}, opts...)
	return fxtest.New(t, all...)
}

// echoRouter replies to "echo.back" with the request's data.
func echoRouter() *core.EventRouter {
	r := core.NewEventRouter("echo")
	r.BindEvent("back", func(ctx context.Context, ev *core.EventObject) error {
		m, ok := core.FromContext(ctx)
		if !ok {
			return core.Permanent(errors.New("no manager in the handler's ctx"))
		}
		return m.Reply(ctx, ev, ev.Data)
	})
	return r
}

// logRecorder is a slog.Handler that keeps every record's message and
// attributes as text and lets a test wait for a message.
type logRecorder struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// wait returns the first line that contains msg, once one was logged.
func (r *logRecorder) wait(t *testing.T, msg string) string {
	t.Helper()
	timeout := time.After(startTimeout)
	for {
		r.mu.Lock()
		lines, changed := r.lines, r.changed
		r.mu.Unlock()
		for _, l := range lines {
			if strings.Contains(l, msg) {
				return l
			}
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log line %q in:\n%s", msg, strings.Join(lines, "\n"))
		}
	}
}

// probeServer is an application's HTTP server with the gininteg probes on
// 127.0.0.1 (a free port), started and stopped by the lifecycle; it depends
// on the manager, so fx starts it after the manager's hook.
func probeServer(lc fx.Lifecycle, m *core.Manager) *http.Server {
	e := gin.New()
	e.GET("/livez", gininteg.Liveness())
	e.GET("/readyz", gininteg.Readiness(m))
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	serveOnLifecycle(lc, srv)
	return srv
}

// serveOnLifecycle makes lc serve srv on 127.0.0.1 (a free port, then in
// srv.Addr) on start, and shut it down on stop.
func serveOnLifecycle(lc fx.Lifecycle, srv *http.Server) {
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			srv.Addr = ln.Addr().String()
			go srv.Serve(ln)
			return nil
		},
		OnStop: srv.Shutdown,
	})
}

// get does a GET on srv and returns the status.
func get(t *testing.T, srv *http.Server, path string) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: startTimeout}
	resp, err := c.Get("http://" + srv.Addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
