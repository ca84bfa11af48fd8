// Package greeter is the worker side of the fx example: an fx module that
// contributes a router to fxmodule's group, so the events it binds are
// consumed by the application's manager.
package greeter

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/fx"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
)

// Module contributes the "greet" router.
var Module = fx.Module("greeter",
	fx.Provide(fxmodule.AsRouter(NewRouter)),
)

// Hello is the data of a "greet.hello" event.
type Hello struct {
	Name string `json:"name"`
}

// Greeting is the data of its reply.
type Greeting struct {
	Message string `json:"message"`
}

// NewRouter routes "greet.hello" to a handler that replies with a greeting.
func NewRouter() *core.EventRouter {
	r := core.NewEventRouter("greet")
	r.BindEvent("hello", hello)
	return r
}

func hello(ctx context.Context, ev *core.EventObject) error {
	var in Hello
	if err := ev.Decode(&in); err != nil {
		return core.Permanent(err) // retrying will not fix bad data
	}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = "stranger"
	}
	m, ok := core.FromContext(ctx)
	if !ok {
		return core.Permanent(errors.New("greeter: no manager in the handler's context"))
	}
	return m.Reply(ctx, ev, Greeting{Message: "Hello, " + in.Name + "!"})
}
