// Package worker is the responder of the Echo example: a service that answers
// the API's events over Kafka, knowing nothing of HTTP.
package worker

import (
	"context"
	"fmt"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Location is the worker's topic, where the API sends its events.
const Location = "echo-example-worker"

// Router answers
//
//	greeter.hello {"name":"Ada"}  with {"message":"Hello, Ada!"}
//	math.double   {"n":21}        with {"n":42}
//
// and sets the HTTP status of the API's response through "http_status" when
// the request is invalid.
func Router() *core.EventRouter {
	greeter := core.NewEventRouter("greeter")
	greeter.BindEvent("hello", hello)
	math := core.NewEventRouter("math")
	math.BindEvent("double", double)

	root := core.NewEventRouter(Location)
	root.IncludeBinder(greeter)
	root.IncludeBinder(math)
	return root
}

func hello(ctx context.Context, ev *core.EventObject) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := ev.Decode(&in); err != nil || in.Name == "" {
		return reply(ctx, ev, map[string]any{"http_status": 400, "error": "name is required"})
	}
	return reply(ctx, ev, map[string]string{"message": fmt.Sprintf("Hello, %s!", in.Name)})
}

func double(ctx context.Context, ev *core.EventObject) error {
	var in struct {
		N *float64 `json:"n"`
	}
	if err := ev.Decode(&in); err != nil || in.N == nil {
		return reply(ctx, ev, map[string]any{"http_status": 400, "error": "n (a number) is required"})
	}
	return reply(ctx, ev, map[string]float64{"n": *in.N * 2})
}

// reply answers ev with the Manager that runs the handler.
func reply(ctx context.Context, ev *core.EventObject, data any) error {
	m, ok := core.FromContext(ctx)
	if !ok {
		return core.Permanent(fmt.Errorf("worker: no manager in the handler's context"))
	}
	return m.Reply(ctx, ev, data)
}
