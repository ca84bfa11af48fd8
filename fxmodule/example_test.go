package fxmodule_test

import (
	"context"

	"go.uber.org/fx"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
)

// newOrdersRouter handles "orders.*" events; the manager that runs a handler
// travels in its ctx.
func newOrdersRouter() *core.EventRouter {
	r := core.NewEventRouter("orders")
	r.BindEvent("get", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]string{"status": "shipped"})
	})
	return r
}

// checkout is an application component that sends requests.
type checkout struct{ m *core.Manager }

func newCheckout(m *core.Manager) *checkout { return &checkout{m: m} }

func Example() {
	app := fx.New(
		fx.Supply(core.Config{BootstrapServers: "localhost:9092", Location: "shop"}),
		fxmodule.Module,
		fx.Provide(
			fxmodule.AsRouter(newOrdersRouter),
			newCheckout,
		),
		fx.Invoke(func(*checkout) {}),
	)
	app.Run() // starts the consumer, blocks until a signal, then closes it
}
