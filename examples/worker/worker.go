// Package worker is the responder of the Gin and Echo examples: a service
// that answers the API's events over Kafka, knowing nothing of HTTP.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// HelloIn is the data of greeter.hello.
type HelloIn struct {
	Name string `json:"name" validate:"required,max=40" jsonschema:"description=Who to greet,example=Ada"`
}

// HelloOut is the reply to greeter.hello.
type HelloOut struct {
	Message string `json:"message"`
}

// DoubleIn is the data of math.double.
type DoubleIn struct {
	N *float64 `json:"n" validate:"required" jsonschema:"description=The number to double,example=21"`
}

// DoubleOut is the reply to math.double.
type DoubleOut struct {
	N float64 `json:"n"`
}

// Bye is the data of greeter.bye, an event: nobody waits for a reply.
type Bye struct {
	Name string `json:"name" validate:"required" jsonschema:"example=Ada"`
}

// Router answers
//
//	greeter.hello {"name":"Ada"}  with {"message":"Hello, Ada!"}
//	math.double   {"n":21}        with {"n":42}
//
// and logs the event greeter.bye {"name":"Ada"}. The handlers are typed: the
// data is decoded and validated before they run, and a request with invalid
// data gets an error reply with the fields at fault (422 through the HTTP
// adapters). location, the worker's topic, names the root router.
func Router(location string) *core.EventRouter {
	greeter := core.NewEventRouter("greeter")
	core.HandleEvent(greeter, "hello", hello)
	core.OnEvent(greeter, "bye", bye)
	math := core.NewEventRouter("math")
	core.HandleEvent(math, "double", double)

	root := core.NewEventRouter(location)
	root.IncludeBinder(greeter)
	root.IncludeBinder(math)
	return root
}

// New returns the worker, not started: a Manager on brokers that will
// consume location, the topic the API sends its events to, with Router.
// Start it with InitConsumer and a ctx with a deadline, and Close it to stop
// it.
func New(brokers, location string) (*core.Manager, error) {
	w, err := core.NewManager(core.Config{BootstrapServers: brokers, Location: location})
	if err != nil {
		return nil, err
	}
	w.SetRouter(Router(location))
	return w, nil
}

// Start runs the worker (New, then InitConsumer). ctx bounds the start:
// give it a deadline, as a broker that cannot be reached makes InitConsumer
// wait until ctx ends. A start that fails closes the worker.
func Start(ctx context.Context, brokers, location string) (*core.Manager, error) {
	w, err := New(brokers, location)
	if err != nil {
		return nil, err
	}
	if err := w.InitConsumer(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, errors.Join(err, w.Close(closeCtx))
	}
	return w, nil
}

func hello(_ context.Context, in HelloIn) (HelloOut, error) {
	return HelloOut{Message: fmt.Sprintf("Hello, %s!", in.Name)}, nil
}

func double(_ context.Context, in DoubleIn) (DoubleOut, error) {
	return DoubleOut{N: *in.N * 2}, nil
}

func bye(ctx context.Context, in Bye) error {
	slog.InfoContext(ctx, "worker: goodbye", "name", in.Name)
	return nil
}
