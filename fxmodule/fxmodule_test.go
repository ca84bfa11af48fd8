package fxmodule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
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

func TestStartStop(t *testing.T) {
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

func TestRoutedEventFromGroup(t *testing.T) {
	type got struct {
		ev      *core.EventObject
		manager bool
	}
	handled := make(chan got, 1)
	orders := func() *core.EventRouter {
		r := core.NewEventRouter("orders")
		r.BindEvent("created", func(ctx context.Context, ev *core.EventObject) error {
			_, ok := core.FromContext(ctx)
			handled <- got{ev, ok}
			return nil
		})
		return r
	}
	// A router constructor may fail, and may depend on the manager.
	users := func(m *core.Manager) (*core.EventRouter, error) {
		if m == nil {
			return nil, errors.New("no manager")
		}
		r := core.NewEventRouter("users")
		r.BindEvent("#", func(context.Context, *core.EventObject) error {
			return core.Permanent(errors.New("users router got an orders event"))
		})
		return r, nil
	}

	var m *core.Manager
	app := newApp(t, kafkatest.Config(t, "fx"),
		fx.Provide(fxmodule.AsRouter(orders), fxmodule.AsRouter(users)),
		fx.Populate(&m),
	)
	app.RequireStart()
	defer app.RequireStop()

	if r := m.Router(); r == nil || r.Name() != m.Config().Location {
		t.Fatalf("root router = %v, want one named %q", r, m.Config().Location)
	}
	ev, _ := core.NewEventObject("orders.created", map[string]int{"id": 7})
	ctx := kafkatest.Context(t, 60*time.Second)
	if err := m.Produce(ctx, m.Config().Location, ev); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	select {
	case g := <-handled:
		var data struct{ ID int }
		if err := g.ev.Decode(&data); err != nil || data.ID != 7 || g.ev.CorrelationID != ev.CorrelationID {
			t.Fatalf("handled %+v (data %+v, %v), want id 7 of %s", g.ev, data, err, ev.CorrelationID)
		}
		if !g.manager {
			t.Error("handler's ctx carries no manager")
		}
	case <-ctx.Done():
		t.Fatal("the event was not routed to the contributed router")
	}
}

func TestRequestThroughInjectedManager(t *testing.T) {
	var m *core.Manager
	app := newApp(t, kafkatest.Config(t, "fx"),
		fx.Provide(fxmodule.AsRouter(echoRouter)),
		fx.Populate(&m),
	)
	app.RequireStart()
	defer app.RequireStop()

	ev, _ := core.NewEventObject("echo.back", map[string]string{"hello": "fx"})
	reply, err := m.Request(kafkatest.Context(t, 60*time.Second), m.Config().Location, ev)
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	var data map[string]string
	if err := reply.Decode(&data); err != nil || data["hello"] != "fx" {
		t.Fatalf("reply data %v (%v), want hello=fx", data, err)
	}
	if reply.Status != core.StatusCompleted || reply.CorrelationID != ev.CorrelationID {
		t.Fatalf("reply %+v", reply)
	}
}

func TestNoRoutersUsesStorage(t *testing.T) {
	var m *core.Manager
	app := newApp(t, kafkatest.Config(t, "fx"), fx.Populate(&m))
	app.RequireStart()
	defer app.RequireStop()
	if r := m.Router(); r != nil {
		t.Fatalf("router %q set without contributed routers", r.Name())
	}
	ev, _ := core.NewEventObject("any.thing", nil)
	ctx := kafkatest.Context(t, 60*time.Second)
	if err := m.Produce(ctx, m.Config().Location, ev); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if _, err := m.ConsumerStorage().Consume(ctx, ev.CorrelationID); err != nil {
		t.Fatalf("Consume: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLoggerFromGraph(t *testing.T) {
	var buf syncBuffer
	cfg := kafkatest.Config(t, "fx")
	app := fxtest.New(t,
		fx.Supply(cfg, slog.New(slog.NewTextHandler(&buf, nil))),
		fxmodule.Module,
		fx.StartTimeout(startTimeout),
		fx.StopTimeout(startTimeout),
	)
	app.RequireStart()
	app.RequireStop()
	if out := buf.String(); !strings.Contains(out, "consumer ready") || !strings.Contains(out, cfg.Location) {
		t.Fatalf("the graph's logger did not get the manager's logs:\n%s", out)
	}
}

func TestConfigFromEnv(t *testing.T) {
	bootstrap := kafkatest.Bootstrap(t)
	t.Run("used when none supplied", func(t *testing.T) {
		loc := kafkatest.Name(t, "env")
		t.Setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
		t.Setenv("KAFKA_LOCATION", loc)
		t.Setenv("KAFKA_REQUEST_TIMEOUT", "7s")
		var m *core.Manager
		app := fxtest.New(t, fxmodule.Module, fx.Populate(&m), fx.Supply(kafkatest.Logger()),
			fx.StartTimeout(startTimeout), fx.StopTimeout(startTimeout))
		app.RequireStart()
		app.RequireStop()
		if c := m.Config(); c.Location != loc || c.BootstrapServers != bootstrap || c.RequestTimeout != 7*time.Second {
			t.Fatalf("config %+v, want the environment's", c)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
		t.Setenv("KAFKA_LOCATION", "")
		app := fx.New(fxmodule.Module, fx.NopLogger, fx.Invoke(func(*core.Manager) {}))
		err := app.Start(kafkatest.Context(t, 10*time.Second))
		if err == nil || !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP_SERVERS") {
			t.Fatalf("Start: %v, want an error naming KAFKA_BOOTSTRAP_SERVERS", err)
		}
		var ce *core.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("Start: %v, want a *core.ConfigError", err)
		}
	})
}

func TestStartFailure(t *testing.T) {
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

func TestRouterSetupErrors(t *testing.T) {
	named := func(name string) func() *core.EventRouter {
		return func() *core.EventRouter { return core.NewEventRouter(name) }
	}
	tests := []struct {
		name    string
		routers []any
		want    string
	}{
		{"duplicate name", []any{named("orders"), named("orders")}, `include router "orders"`},
		{"nil router", []any{func() *core.EventRouter { return nil }}, "is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var provides []any
			for _, r := range tt.routers {
				provides = append(provides, fxmodule.AsRouter(r))
			}
			var m *core.Manager
			app := fx.New(fx.NopLogger, fx.Supply(kafkatest.Config(t, "fx"), kafkatest.Logger()), fxmodule.Module, fx.Provide(provides...),
				fx.Decorate(func(dm *core.Manager) *core.Manager { m = dm; return dm }))
			err := app.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("fx.New: %v, want an error containing %q", err, tt.want)
			}
			if m == nil {
				t.Fatal("the manager was never created")
			}
			// fx runs no hook after a failed build: Route must have closed it.
			ev, _ := core.NewEventObject("x", nil)
			if err := m.Produce(context.Background(), "x", ev); !errors.Is(err, core.ErrClosed) {
				t.Errorf("Produce after failed build: %v, want ErrClosed", err)
			}
		})
	}
}

// TestGroupTag checks that RouterGroup is the group Route reads: a router
// contributed with the constant in a hand-written tag is routed to.
func TestGroupTag(t *testing.T) {
	type out struct {
		fx.Out
		Router *core.EventRouter `group:"kafka-broker.routers"`
	}
	if fxmodule.RouterGroup != "kafka-broker.routers" {
		t.Fatalf("RouterGroup = %q; update the tags in this test and in RouteParams", fxmodule.RouterGroup)
	}
	var m *core.Manager
	app := newApp(t, kafkatest.Config(t, "fx"),
		fx.Provide(func() out {
			r := core.NewEventRouter("tagged")
			r.BindEvent("x", func(context.Context, *core.EventObject) error { return nil })
			return out{Router: r}
		}),
		fx.Populate(&m),
	)
	// The manager exists once the app is built; only stopping closes it.
	app.RequireStart().RequireStop()
	if m.Router() == nil {
		t.Fatal("router contributed through the tag was not wired")
	}
	if _, ok := m.Router().Match("tagged.x"); !ok {
		t.Fatal(`root router does not route "tagged.x"`)
	}
}

// TestHTTPDrainsBeforeConsumerCloses runs a Gin server in the app whose
// handler awaits a reply, stops the app while a request is in flight, and
// checks that the request still gets its reply: the server drains first,
// then the manager closes.
func TestHTTPDrainsBeforeConsumerCloses(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
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
