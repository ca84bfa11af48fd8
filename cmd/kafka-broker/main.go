// Command kafka-broker is a developer tool for services that talk over Kafka:
// a standalone in-memory Kafka-protocol broker (dev), and commands to send
// events and watch topics without writing code (request, produce, tail).
//
// Install it with
//
//	go install github.com/kafka-broker/kafka-broker-go/cmd/kafka-broker@latest
//
// or, from a clone of the repository, `go install ./cmd/kafka-broker`; then
// run `kafka-broker --help` (and `kafka-broker --version`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafka-broker/kafka-broker-go/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
