// Package realkafka lets fault tests stop, kill and start the real Apache
// Kafka broker that scripts/kafka runs (the real-Kafka tier, make test-kafka).
//
// The broker is reachable only when the environment variable KAFKA_SCRIPT
// holds the path of scripts/kafka; FromEnv reports false otherwise, and such
// tests skip:
//
//	b, ok := realkafka.FromEnv()
//	if !ok {
//		t.Skip("KAFKA_SCRIPT not set: no real broker to restart")
//	}
//	if err := b.Restart(ctx); err != nil {
//		t.Fatal(err)
//	}
//
// The script runs with this process's environment, so KAFKA_PORT,
// KAFKA_DATA_DIR and the other settings it reads are the ones the broker was
// started with. Start and Restart return once the broker is ready again.
package realkafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// EnvScript is the environment variable naming the broker control script.
const EnvScript = "KAFKA_SCRIPT"

// ErrCommand is wrapped by every error of a script run that failed.
var ErrCommand = errors.New("realkafka: broker command failed")

// waitDelay bounds the wait for the script's output after it exited or its
// context was cancelled (a child that kept the pipe open).
const waitDelay = 5 * time.Second

// Broker controls the broker through its script.
type Broker struct {
	script string
}

// FromEnv returns the broker whose script KAFKA_SCRIPT names. It reports false
// when KAFKA_SCRIPT is unset or does not name a regular file.
func FromEnv() (*Broker, bool) {
	script := os.Getenv(EnvScript)
	if script == "" {
		return nil, false
	}
	fi, err := os.Stat(script)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	return &Broker{script: script}, true
}

// Stop shuts the broker down cleanly (SIGTERM, SIGKILL after a grace period).
func (b *Broker) Stop(ctx context.Context) error { return b.run(ctx, "stop") }

// Kill ends the broker with SIGKILL at once, as a crash would; its data stays.
func (b *Broker) Kill(ctx context.Context) error { return b.run(ctx, "kill") }

// Start starts the broker on its existing data and waits until it is ready.
// Starting a running broker is not an error.
func (b *Broker) Start(ctx context.Context) error { return b.run(ctx, "start") }

// Restart stops the broker cleanly and starts it again on the same data.
func (b *Broker) Restart(ctx context.Context) error { return b.run(ctx, "restart") }

func (b *Broker) run(ctx context.Context, command string) error {
	cmd := exec.CommandContext(ctx, b.script, command)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	msg := strings.TrimSpace(out.String())
	if msg == "" {
		msg = "(no output)"
	}
	return fmt.Errorf("%w: %s %s: %w\n%s", ErrCommand, b.script, command, err, msg)
}
