package core_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/embedded"
)

var quiet = core.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// Send an event and wait for the response, the Python package's way: produce,
// then await the correlation ID in the consumer storage. The responder answers
// to the Location of the request's last audit entry.
func Example_sendAndWait() {
	broker, err := embedded.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A service called "greeter" answers "greet.hello" events.
	greeter, _ := core.NewManager(core.Config{BootstrapServers: broker.BootstrapServers(), Location: "greeter"}, quiet)
	defer greeter.Close(ctx)
	router := core.NewEventRouter("greeter")
	greet := core.NewEventRouter("greet")
	greet.BindEvent("hello", func(ctx context.Context, ev *core.EventObject) error {
		var in struct{ Name string }
		if err := ev.Decode(&in); err != nil {
			return core.Permanent(err)
		}
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]string{"greeting": "hello " + in.Name})
	})
	router.IncludeBinder(greet)
	greeter.SetRouter(router)
	if err := greeter.InitConsumer(ctx); err != nil {
		log.Fatal(err)
	}

	// Our service, "frontend", sends the event and waits for the answer.
	frontend, _ := core.NewManager(core.Config{BootstrapServers: broker.BootstrapServers(), Location: "frontend"}, quiet)
	defer frontend.Close(ctx)
	if err := frontend.InitConsumer(ctx); err != nil {
		log.Fatal(err)
	}
	ev, _ := core.NewEventObject("greet.hello", map[string]string{"name": "Ada"})
	if err := frontend.Produce(ctx, "greeter", ev); err != nil {
		log.Fatal(err)
	}
	reply, err := frontend.ConsumerStorage().Consume(ctx, ev.CorrelationID)
	if err != nil {
		log.Fatal(err)
	}
	var out struct{ Greeting string }
	_ = reply.Decode(&out)
	fmt.Println(reply.Status, out.Greeting)
	for _, hop := range reply.AuditLog {
		fmt.Println("hop:", hop.Location, hop.TimeReceived != nil)
	}
	// Output:
	// completed hello Ada
	// hop: frontend true
	// hop: greeter true
}

// Run a process on all events: let the consumer fill the storage, then take
// everything stored and route it.
func Example_processAllEvents() {
	broker, err := embedded.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	m, _ := core.NewManager(core.Config{BootstrapServers: broker.BootstrapServers(), Location: "inventory"}, quiet)
	defer m.Close(ctx)
	if err := m.InitConsumer(ctx); err != nil {
		log.Fatal(err)
	}
	router := core.NewEventRouter("inventory")
	router.BindEvent("restock", func(_ context.Context, ev *core.EventObject) error {
		var in struct{ Item string }
		_ = ev.Decode(&in)
		fmt.Println("restocking", in.Item)
		return nil
	})
	ev, _ := core.NewEventObject("restock", map[string]string{"item": "tea"})
	if err := m.Produce(ctx, "inventory", ev); err != nil {
		log.Fatal(err)
	}

	if err := m.ConsumerStorage().Receive(ctx); err != nil { // wait until something is stored
		log.Fatal(err)
	}
	for _, ev := range m.ConsumerStorage().ConsumeAll() {
		if err := router.ExecuteEvent(ctx, ev); err != nil {
			log.Print(err)
		}
	}
	// Output:
	// restocking tea
}

// Nested routers: "test.return" on router "module" finds the bind "test",
// a router, which runs its bind "return".
func ExampleEventRouter_IncludeBinder() {
	module := core.NewEventRouter("module")
	test := core.NewEventRouter("test")
	test.BindEvent("return", func(_ context.Context, ev *core.EventObject) error {
		fmt.Println("handled", ev.Event)
		return nil
	})
	test.BindEvent("*", func(_ context.Context, ev *core.EventObject) error {
		fmt.Println("wildcard", ev.Event)
		return nil
	})
	module.IncludeBinder(test)

	for _, key := range []string{"test.return", "test.other", "other.return"} {
		ev, _ := core.NewEventObject(key, nil)
		if err := module.ExecuteEvent(context.Background(), ev); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// handled test.return
	// wildcard test.other
	// kafka-broker: no route for event "other.return" in router "module"
}
