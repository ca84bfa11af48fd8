// Command kafka-broker is a developer tool: a standalone in-memory Kafka-protocol
// broker ("dev"), and commands to send and watch events.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafka-broker/kafka-broker-go/embedded"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kafka-broker dev [--port 9092]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "dev":
		os.Exit(runDev(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "kafka-broker: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runDev(args []string) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	port := fs.Int("port", 9092, "port to listen on (127.0.0.1)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := embedded.Start(embedded.WithPort(*port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka-broker dev:", err)
		return 1
	}
	defer c.Close()
	fmt.Printf("kafka-broker dev: in-memory broker listening on %s (data is lost on exit; Ctrl-C stops)\n", c.BootstrapServers())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}
