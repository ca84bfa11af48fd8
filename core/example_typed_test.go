package core_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/embedded"
)

type Greet struct {
	Name string `json:"name" validate:"required,max=20"`
}

type Greeting struct {
	Message string `json:"message"`
}

// Typed handlers and calls: the data is decoded and validated before the
// handler runs, the reply decoded for the caller, and invalid data comes
// back as a *core.RemoteError with the fields at fault.
func Example_typed() {
	broker, err := embedded.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	greeter, _ := core.NewManager(core.Config{BootstrapServers: broker.BootstrapServers(), Location: "greeter"}, quiet)
	defer greeter.Close(ctx)
	greet := core.NewEventRouter("greet")
	core.HandleEvent(greet, "hello", func(_ context.Context, in Greet) (Greeting, error) {
		return Greeting{Message: "hello " + in.Name}, nil
	})
	root := core.NewEventRouter("greeter")
	root.IncludeBinder(greet)
	greeter.SetRouter(root)
	if err := greeter.InitConsumer(ctx); err != nil {
		log.Fatal(err)
	}

	frontend, _ := core.NewManager(core.Config{BootstrapServers: broker.BootstrapServers(), Location: "frontend"}, quiet)
	defer frontend.Close(ctx)
	if err := frontend.InitConsumer(ctx); err != nil {
		log.Fatal(err)
	}
	out, _, err := core.Call[Greeting](ctx, frontend, "greeter", "greet.hello", Greet{Name: "Ada"})
	fmt.Println(out.Message, err)

	_, _, err = core.Call[Greeting](ctx, frontend, "greeter", "greet.hello", Greet{})
	var re *core.RemoteError
	if errors.As(err, &re) {
		fmt.Println(re.StatusCode, re.Fields[0].Field, re.Fields[0].Tag, "-", re.Fields[0].Message)
	}
	// Output:
	// hello Ada <nil>
	// 422 name required - name is a required field
}
