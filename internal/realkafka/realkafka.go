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
// KAFKA_DATA_DIR and the other settings it reads (KAFKA_SECURITY,
// KAFKA_NODES) are the ones the broker was started with. Start, Restart and
// StartNode return once the broker (the node) is ready again.
package realkafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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

// Pause freezes the broker (SIGSTOP): its connections stay open and
// nothing answers, as in a long garbage-collection pause; Resume ends it.
func (b *Broker) Pause(ctx context.Context) error { return b.run(ctx, "pause") }

// Resume lets a paused broker go on (SIGCONT).
func (b *Broker) Resume(ctx context.Context) error { return b.run(ctx, "resume") }

// Start starts the broker on its existing data and waits until it is ready.
// Starting a running broker is not an error.
func (b *Broker) Start(ctx context.Context) error { return b.run(ctx, "start") }

// Restart stops the broker cleanly and starts it again on the same data.
func (b *Broker) Restart(ctx context.Context) error { return b.run(ctx, "restart") }

// StopNode shuts node n (1, 2, ...) of a cluster down cleanly.
func (b *Broker) StopNode(ctx context.Context, n int) error {
	return b.run(ctx, "stop-node", strconv.Itoa(n))
}

// KillNode ends node n of a cluster with SIGKILL at once.
func (b *Broker) KillNode(ctx context.Context, n int) error {
	return b.run(ctx, "kill-node", strconv.Itoa(n))
}

// StartNode starts node n of a cluster on its data and waits until it is
// ready (registered and unfenced; its replicas may still be catching up).
func (b *Broker) StartNode(ctx context.Context, n int) error {
	return b.run(ctx, "start-node", strconv.Itoa(n))
}

// Env returns the client settings the script prints with `env`:
// KAFKA_BOOTSTRAP_SERVERS and, on a secured broker, the KAFKA_PROP_<NAME>
// librdkafka properties for the superuser, or for user when it is not empty.
func (b *Broker) Env(ctx context.Context, user string) (map[string]string, error) {
	out, err := b.output(ctx, []string{"KAFKA_USER=" + user}, "env")
	if err != nil {
		return nil, err
	}
	return parseExports(out)
}

// parseExports reads the lines `export NAME='value'` the script prints (a
// single quote inside a value ends the quoting, comes escaped with a
// backslash, and quoting starts again), or `export NAME=value` for a value
// without special characters.
func parseExports(out string) (map[string]string, error) {
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		name, value, ok2 := strings.Cut(kv, "=")
		quoted := len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\''
		if !ok || !ok2 || name == "" || (!quoted && strings.ContainsAny(value, " \t'\"\\$`;&|<>(){}*?![]~#")) {
			return nil, fmt.Errorf("realkafka: unexpected line from env: %q", line)
		}
		if quoted {
			value = strings.ReplaceAll(value[1:len(value)-1], `'\''`, "'")
		}
		env[name] = value
	}
	return env, nil
}

func (b *Broker) run(ctx context.Context, args ...string) error {
	_, err := b.output(ctx, nil, args...)
	return err
}

// output runs the script with args and extra environment variables, and
// returns its standard output.
func (b *Broker) output(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.script, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	msg := strings.TrimSpace(stdout.String() + stderr.String())
	if msg == "" {
		msg = "(no output)"
	}
	return "", fmt.Errorf("%w: %s %s: %w\n%s", ErrCommand, b.script, strings.Join(args, " "), err, msg)
}
