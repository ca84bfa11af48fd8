package core_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// After a bug in the handlers of the service "orders" is fixed: list what
// the bug dead-lettered in the last day, then send it back, once.
func ExampleDeadLetters_Redrive() {
	ctx := context.Background()
	dl, err := core.OpenDeadLetters(core.Config{BootstrapServers: "localhost:9092", Location: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer dl.Close()

	bug := core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}, Since: time.Now().Add(-24 * time.Hour)}
	err = dl.List(ctx, bug, func(d *core.DeadLetter) error {
		fmt.Println(d.Partition, d.Offset, d.EventName(), d.Error, d.Refusal)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := dl.Redrive(ctx, core.RedriveOptions{Filter: bug})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("redriven %d, refused %d %v, failed %d\n", res.Redriven, res.Refused, res.Refusals, res.Failed)
}
