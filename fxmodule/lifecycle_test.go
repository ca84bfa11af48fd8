package fxmodule_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	var m *core.Manager
	app := newApp(t, kafkatest.Config(t, "fx"), fx.Populate(&m))
	if m.Ready() {
		t.Fatal("manager ready before the app started")
	}
	app.RequireStart()
	if !m.Ready() {
		t.Fatal("manager not ready after the app started")
	}
	app.RequireStop()
	if m.Ready() {
		t.Fatal("manager still ready after the app stopped")
	}

	// After stop, the manager refuses work.
	ctx := kafkatest.Context(t, 10*time.Second)
	ev, _ := core.NewEventObject("echo.back", nil)
	if err := m.Produce(ctx, m.Config().Location, ev); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Produce after stop: %v, want ErrClosed", err)
	}
	if _, err := m.Request(ctx, m.Config().Location, ev); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Request after stop: %v, want ErrClosed", err)
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	unreachable := kafkatest.ClosedAddr(t)
	tests := []struct {
		name string
		cfg  core.Config
		want []string // in the error
	}{
		{
			name: "invalid location",
			cfg:  core.Config{BootstrapServers: kafkatest.Bootstrap(t), Location: "no spaces allowed"},
			want: []string{"Location", "not a valid topic name"},
		},
		{
			name: "negative timeout",
			cfg:  core.Config{BootstrapServers: kafkatest.Bootstrap(t), Location: "x", RequestTimeout: -1},
			want: []string{"RequestTimeout"},
		},
		{
			name: "unreachable broker",
			cfg:  core.Config{BootstrapServers: unreachable, Location: kafkatest.Name(t, "down")},
			want: []string{"start consumer", unreachable},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *core.Manager
			rolledBack := make(chan struct{})
			app := fx.New(
				fx.NopLogger,
				fx.Supply(tt.cfg, kafkatest.Logger()),
				// Started before the module's hook: must be rolled back.
				fx.Module("first", fx.Invoke(func(lc fx.Lifecycle) {
					lc.Append(fx.StopHook(func() { close(rolledBack) }))
				})),
				fxmodule.Module,
				fx.Populate(&m),
			)
			err := app.Start(kafkatest.Context(t, 5*time.Second))
			if err == nil {
				app.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			t.Logf("Start: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start: %v, want it to mention %q", err, w)
				}
			}
			if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "brokers") {
				t.Errorf("Start: %v: fx's bare deadline, not the manager's reason", err)
			}
			if m == nil {
				return // the constructor failed: nothing was created
			}
			select {
			case <-rolledBack:
			default:
				t.Error("the hook started before the module's was not rolled back")
			}
			ev, _ := core.NewEventObject("x", nil)
			if err := m.Produce(context.Background(), "x", ev); !errors.Is(err, core.ErrClosed) {
				t.Errorf("Produce after failed start: %v, want ErrClosed", err)
			}
		})
	}
}

// TestHTTPDrainsBeforeConsumerCloses runs a Gin server in the app whose
// handler awaits a reply, stops the app while a request is in flight, and
// checks that the request still gets its reply: the server drains first,
// then the manager closes.
func TestHTTPDrainsBeforeConsumerCloses(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	slow := func() *core.EventRouter {
		r := core.NewEventRouter("slow")
		r.BindEvent("op", func(ctx context.Context, ev *core.EventObject) error {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			m, _ := core.FromContext(ctx)
			return m.Reply(ctx, ev, map[string]string{"done": "yes"})
		})
		return r
	}
	shutdownBegan := make(chan struct{})
	var consumerReadyAtShutdown bool
	newServer := func(lc fx.Lifecycle, m *core.Manager) (*http.Server, error) {
		e := gin.New()
		e.GET("/op", func(c *gin.Context) {
			ev, _ := core.NewEventObject("slow.op", nil)
			reply, err := m.Request(c.Request.Context(), m.Config().Location, ev)
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.Data(http.StatusOK, "application/json", reply.Data)
		})
		srv := &http.Server{Handler: e}
		srv.RegisterOnShutdown(func() {
			consumerReadyAtShutdown = m.Ready()
			close(shutdownBegan)
		})
		serveOnLifecycle(lc, srv)
		return srv, nil
	}

	var m *core.Manager
	var srv *http.Server
	app := newApp(t, kafkatest.Config(t, "fx"),
		fx.Provide(fxmodule.AsRouter(slow), newServer),
		fx.Populate(&m, &srv),
	)
	app.RequireStart()

	type response struct {
		code int
		body string
		err  error
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	responses := make(chan response, 1)
	go func() {
		resp, err := client.Get("http://" + srv.Addr + "/op")
		if err != nil {
			responses <- response{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		responses <- response{resp.StatusCode, string(b), err}
	}()

	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(60 * time.Second):
			close(release)
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	wait(entered, "the handler to receive the request")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		stopped <- app.Stop(ctx)
	}()
	wait(shutdownBegan, "the HTTP server to begin shutting down")
	if !consumerReadyAtShutdown {
		t.Error("the manager was closed before the HTTP server began draining")
	}
	close(release)

	r := <-responses
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("in-flight request: %d %q %v, want 200 with the reply", r.code, r.body, r.err)
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(r.body), &data); err != nil || data["done"] != "yes" {
		t.Fatalf("reply body %q", r.body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if m.Ready() {
		t.Fatal("manager still running after stop")
	}
}

// TestStartBounded checks that OnStart gives up on an unreachable broker
// within StartConfig.Timeout even when the start context has no deadline,
// with the manager's reason and what to set.
func TestStartBounded(t *testing.T) {
	t.Parallel()
	dead := kafkatest.ClosedAddr(t)
	cfg := core.Config{BootstrapServers: dead, Location: kafkatest.Name(t, "down")}
	app := fx.New(fx.NopLogger, fx.Supply(cfg, kafkatest.Logger(), fxmodule.StartConfig{Timeout: 2 * time.Second}), fxmodule.Module,
		fx.Invoke(func(*core.Manager) {}))
	done := make(chan error, 1)
	go func() { done <- app.Start(context.Background()) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		t.Fatal("Start did not give up on the unreachable broker")
	}
	for _, want := range []string{"start consumer", dead, "KAFKA_BOOTSTRAP_SERVERS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %v, want it to mention %q", err, want)
		}
	}
}

// TestBackgroundStartServesWhileStarting checks StartConfig.Background with
// an unreachable broker: Start returns at once, the application's HTTP
// server answers liveness and readiness (503) while the consumer starts, and
// a start that runs out of time is logged with the reason and shuts the
// application down with exit code 1.
func TestBackgroundStartServesWhileStarting(t *testing.T) {
	t.Parallel()
	dead := kafkatest.ClosedAddr(t)
	logs := newLogRecorder()
	var m *core.Manager
	var srv *http.Server
	app := fx.New(fx.NopLogger,
		fx.Supply(core.Config{BootstrapServers: dead, Location: kafkatest.Name(t, "bg")}, slog.New(logs),
			fxmodule.StartConfig{Background: true, Timeout: 5 * time.Second}),
		fxmodule.Module,
		fx.Provide(probeServer),
		fx.Populate(&m, &srv),
	)
	if err := app.Start(kafkatest.Context(t, startTimeout)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if code := get(t, srv, "/livez"); code != http.StatusOK {
		t.Errorf("livez while the consumer starts: %d, want 200", code)
	}
	if code := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while the consumer starts: %d, want 503", code)
	}
	select {
	case sig := <-app.Wait():
		if sig.ExitCode != 1 {
			t.Errorf("shut down with exit code %d, want 1", sig.ExitCode)
		}
	case <-time.After(startTimeout):
		t.Fatal("the application was not shut down after the start failed")
	}
	line := logs.wait(t, "fxmodule: start consumer")
	for _, want := range []string{dead, "KAFKA_BOOTSTRAP_SERVERS"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if err := app.Stop(kafkatest.Context(t, startTimeout)); err != nil {
		t.Errorf("Stop: %v", err)
	}
	ev, _ := core.NewEventObject("x", nil)
	if err := m.Produce(context.Background(), "x", ev); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Produce after stop: %v, want ErrClosed", err)
	}
}

// TestBackgroundStartBecomesReady checks StartConfig.Background on a
// working broker: readiness answers 200 once the manager logged that its
// consumer is ready, and Stop closes it.
func TestBackgroundStartBecomesReady(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	var m *core.Manager
	var srv *http.Server
	app := fxtest.New(t,
		fx.Supply(kafkatest.Config(t, "bg"), slog.New(logs), fxmodule.StartConfig{Background: true}),
		fxmodule.Module,
		fx.Provide(probeServer),
		fx.Populate(&m, &srv),
		fx.StartTimeout(startTimeout), fx.StopTimeout(startTimeout),
	)
	app.RequireStart()
	if code := get(t, srv, "/livez"); code != http.StatusOK {
		t.Errorf("livez: %d, want 200", code)
	}
	logs.wait(t, "consumer ready")
	if !m.Ready() {
		t.Fatal("manager not ready after it logged so")
	}
	if code := get(t, srv, "/readyz"); code != http.StatusOK {
		t.Errorf("readyz once the consumer runs: %d, want 200", code)
	}
	app.RequireStop()
	if m.Ready() {
		t.Error("manager still ready after stop")
	}
}
