// Package greeter is the worker side of the fx example: an fx module that
// contributes a router to fxmodule's group, so the events it binds are
// consumed by the application's manager.
package greeter

import (
	"context"
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

// NewRouter routes "greet.hello" to a typed handler that replies with a
// greeting.
func NewRouter() *core.EventRouter {
	r := core.NewEventRouter("greet")
	core.HandleEvent(r, "hello", hello)
	return r
}

func hello(_ context.Context, in Hello) (Greeting, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = "stranger"
	}
	return Greeting{Message: "Hello, " + name + "!"}, nil
}
