package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitError       = 1   // the broker could not be reached, a send failed, ...
	ExitUsage       = 2   // bad flags, arguments or --data
	ExitTimeout     = 3   // request: no reply within --timeout
	ExitInterrupted = 130 // stopped by Ctrl-C before finishing (request, produce, dlq)
)

// Env is what a command sees of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv and Environ read environment variables; nil means the process's.
	Getenv  func(string) string
	Environ func() []string
}

func (e Env) getenv(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}

func (e Env) environ() []string {
	if e.Environ != nil {
		return e.Environ()
	}
	return os.Environ()
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) int
}

var commands = []command{
	{"dev", "run an in-memory Kafka-protocol broker on localhost (no Docker, no Kafka install)", runDev},
	{"request", "send an event, wait for its reply and print the reply", runRequest},
	{"produce", "send an event", runProduce},
	{"tail", "print the events of topics as they arrive", runTail},
	{"docs", "print the events a service handles, from its AsyncAPI document", runDocs},
	{"dlq", "list, show and redrive a service's dead letters", runDLQ},
	{"version", "print the version", runVersion},
}

// Run runs the command line args (without the program name) and returns the
// exit code. Cancelling ctx (Ctrl-C) stops dev and tail cleanly and
// interrupts request and produce.
func Run(ctx context.Context, env Env, args []string) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return Run(ctx, env, []string{args[1], "--help"})
		}
		usage(env.Stdout)
		return ExitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "kafka-broker: unknown command %q\nRun 'kafka-broker --help' for the commands.\n", name)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `kafka-broker: develop and debug services that talk over Kafka.

Usage:
  kafka-broker <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'kafka-broker <command> --help' for a command's flags and environment.

Start here:
  kafka-broker dev                                 # a broker on localhost:9092, in memory
  kafka-broker tail orders                         # in another terminal
  kafka-broker produce orders order.created --data '{"id":1}'
  kafka-broker request orders order.get --data '{"id":1}' --timeout 5s
`)
}

// usageError is an error in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// fail prints err for command name and returns its exit code.
func fail(env Env, name string, err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "kafka-broker %s: %v\nRun 'kafka-broker %s --help' for usage.\n", name, err, name)
		return ExitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(env.Stderr, "kafka-broker %s: interrupted\n", name)
		return ExitInterrupted
	}
	fmt.Fprintf(env.Stderr, "kafka-broker %s: %v\n", name, err)
	return ExitError
}
