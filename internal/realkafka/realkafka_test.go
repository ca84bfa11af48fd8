package realkafka_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// fakeScript writes an executable stand-in for scripts/kafka that appends its
// argument to a file and behaves as body says.
func fakeScript(t *testing.T, body string) (script, calls string) {
	t.Helper()
	dir := t.TempDir()
	script = filepath.Join(dir, "kafka")
	calls = filepath.Join(dir, "calls")
	src := "#!/bin/sh\necho \"$1\" >>'" + calls + "'\n" + body + "\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, calls
}

func TestFromEnvUnset(t *testing.T) {
	t.Setenv(realkafka.EnvScript, "")
	if b, ok := realkafka.FromEnv(); ok || b != nil {
		t.Fatalf("FromEnv() = %v, %v; want nil, false", b, ok)
	}
}

func TestFromEnvMissingScript(t *testing.T) {
	t.Setenv(realkafka.EnvScript, filepath.Join(t.TempDir(), "nope"))
	if _, ok := realkafka.FromEnv(); ok {
		t.Fatal("FromEnv() reported a broker for a script that does not exist")
	}
	t.Setenv(realkafka.EnvScript, t.TempDir())
	if _, ok := realkafka.FromEnv(); ok {
		t.Fatal("FromEnv() reported a broker for a directory")
	}
}

func TestCommandsRunSubcommands(t *testing.T) {
	script, calls := fakeScript(t, "exit 0")
	t.Setenv(realkafka.EnvScript, script)
	b, ok := realkafka.FromEnv()
	if !ok {
		t.Fatal("FromEnv() = false with KAFKA_SCRIPT set")
	}
	ctx := t.Context()
	for _, f := range []func(context.Context) error{b.Stop, b.Kill, b.Start, b.Restart, b.Pause, b.Resume} {
		if err := f(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if want := "stop\nkill\nstart\nrestart\npause\nresume\n"; string(got) != want {
		t.Fatalf("subcommands run = %q, want %q", got, want)
	}
}

func TestFailureCarriesOutput(t *testing.T) {
	script, _ := fakeScript(t, "echo 'kafka: error: port 127.0.0.1:19092 is already in use' >&2\nexit 1")
	t.Setenv(realkafka.EnvScript, script)
	b, _ := realkafka.FromEnv()
	err := b.Start(t.Context())
	if !errors.Is(err, realkafka.ErrCommand) {
		t.Fatalf("Start() = %v, want ErrCommand", err)
	}
	for _, want := range []string{"start", "exit status 1", "port 127.0.0.1:19092 is already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestContextDeadline(t *testing.T) {
	script, _ := fakeScript(t, "exec sleep 30")
	t.Setenv(realkafka.EnvScript, script)
	b, _ := realkafka.FromEnv()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, realkafka.ErrCommand) {
		t.Fatalf("Stop() = %v, want DeadlineExceeded and ErrCommand", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Stop() returned after %v", d)
	}
}

func TestNodeCommands(t *testing.T) {
	nodes := filepath.Join(t.TempDir(), "nodes")
	script, calls := fakeScript(t, `echo "$2" >>'`+nodes+`'`)
	t.Setenv(realkafka.EnvScript, script)
	b, _ := realkafka.FromEnv()
	ctx := t.Context()
	if err := b.KillNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.StartNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.StopNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kill-node\nstart-node\nstop-node\n"; string(got) != want {
		t.Fatalf("subcommands run = %q, want %q", got, want)
	}
	if got, _ := os.ReadFile(nodes); string(got) != "2\n2\n3\n" {
		t.Fatalf("nodes = %q, want 2, 2, 3", got)
	}
}

func TestEnv(t *testing.T) {
	// As scripts/kafka prints them; KAFKA_USER reaches the script.
	script, _ := fakeScript(t, `printf '%s\n' \
	"export KAFKA_BOOTSTRAP_SERVERS='127.0.0.1:29192,127.0.0.1:29193'" \
	"export KAFKA_PROP_SECURITY_PROTOCOL=SASL_SSL" \
	"export KAFKA_PROP_SASL_USERNAME='$KAFKA_USER'" \
	"export KAFKA_PROP_SASL_PASSWORD='it'\''s secret'"`)
	t.Setenv(realkafka.EnvScript, script)
	b, _ := realkafka.FromEnv()
	env, err := b.Env(t.Context(), "svc-orders")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS":      "127.0.0.1:29192,127.0.0.1:29193",
		"KAFKA_PROP_SECURITY_PROTOCOL": "SASL_SSL",
		"KAFKA_PROP_SASL_USERNAME":     "svc-orders",
		"KAFKA_PROP_SASL_PASSWORD":     "it's secret",
	}
	if len(env) != len(want) {
		t.Fatalf("Env() = %q, want %q", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestEnvRejectsOtherOutput(t *testing.T) {
	script, _ := fakeScript(t, "echo 'KAFKA_BOOTSTRAP_SERVERS=a b'")
	t.Setenv(realkafka.EnvScript, script)
	b, _ := realkafka.FromEnv()
	if env, err := b.Env(t.Context(), ""); err == nil {
		t.Fatalf("Env() = %q, want an error", env)
	}
}
