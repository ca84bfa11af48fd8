package asyncapi_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
)

func ExampleBuild() {
	type Greet struct {
		Name string `json:"name" validate:"required"`
	}
	type Greeting struct {
		Message string `json:"message"`
	}
	greeter := core.NewEventRouter("greeter")
	core.HandleEvent(greeter, "hello", func(_ context.Context, in Greet) (Greeting, error) {
		return Greeting{Message: "Hello, " + in.Name}, nil
	})
	root := core.NewEventRouter("svc")
	root.IncludeBinder(greeter)

	doc, err := asyncapi.Build(asyncapi.Info{Title: "Greeter", Version: "1.0.0"},
		asyncapi.Service{Location: "greeter-svc", Router: root})
	if err != nil {
		log.Fatal(err)
	}
	for _, op := range doc.Describe() {
		if op.Kind == "send" {
			fmt.Println("send", doc.Operations[op.ID].Channel.Ref)
			continue
		}
		fmt.Println(op.Kind, op.RoutingKey, doc.TypeName(op.Data), "->", doc.TypeName(op.Reply))
	}
	// Output:
	// request greeter.hello Greet -> Greeting
	// send #/channels/greeter-svc.dlq
}

// Serve the docs of a Manager's service with net/http.
func ExampleNewDocs() {
	m, err := core.NewManager(core.Config{BootstrapServers: "localhost:9092", Location: "greeter-svc"})
	if err != nil {
		log.Fatal(err)
	}
	docs := asyncapi.NewDocs(m, asyncapi.WithInfo(asyncapi.Info{Title: "Greeter", Version: "1.0.0"}))
	mux := http.NewServeMux()
	for _, rt := range docs.Routes() {
		mux.Handle(rt.Method+" "+rt.Path, docs)
	}
	log.Fatal(http.ListenAndServe(":8080", mux))
}
