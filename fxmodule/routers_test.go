package fxmodule_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestRoutedEventFromGroup(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

func TestRouterSetupErrors(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
