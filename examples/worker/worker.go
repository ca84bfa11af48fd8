// Package worker is the responder of the Gin and Echo examples: a service
// that answers the API's events over Kafka, knowing nothing of HTTP.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Router answers
//
//	greeter.hello {"name":"Ada"}  with {"message":"Hello, Ada!"}
//	math.double   {"n":21}        with {"n":42}
//
// and sets the HTTP status of the API's response through "http_status" when
// the request is invalid. location, the worker's topic, names the root router.
func Router(location string) *core.EventRouter {
	greeter := core.NewEventRouter("greeter")
	greeter.BindEvent("hello", hello)
	math := core.NewEventRouter("math")
	math.BindEvent("double", double)

	root := core.NewEventRouter(location)
	root.IncludeBinder(greeter)
	root.IncludeBinder(math)
	return root
}

// Start runs the worker: a Manager on brokers that consumes location, the
// topic the API sends its events to, with Router. Close the Manager to stop
// it.
func Start(ctx context.Context, brokers, location string) (*core.Manager, error) {
	w, err := core.NewManager(core.Config{BootstrapServers: brokers, Location: location})
	if err != nil {
		return nil, err
	}
	w.SetRouter(Router(location))
	if err := w.InitConsumer(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, errors.Join(err, w.Close(closeCtx))
	}
	return w, nil
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
