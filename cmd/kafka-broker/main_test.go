package main

import (
	"bufio"
	"context"
	"errors"
	gobuild "go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// build compiles the command into a temporary directory, with the VCS
// stamping of a plain `go build` (-buildvcs=auto, whatever GOFLAGS says).
func build(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(gobuild.Default.GOROOT, "bin", "go") // the toolchain that built the test
	}
	bin := filepath.Join(t.TempDir(), "kafka-broker")
	out, err := exec.Command(goBin, "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func TestBinary(t *testing.T) {
	bin := build(t)

	t.Run("help", func(t *testing.T) {
		r := run(t, bin, nil, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "kafka-broker <command>") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("version", func(t *testing.T) { checkVersion(t, bin) })
	t.Run("unknown command", func(t *testing.T) {
		if r := run(t, bin, nil, "publish"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "publish"`) {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("unreachable broker", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		r := run(t, bin, []string{"KAFKA_BOOTSTRAP_SERVERS=" + addr}, "request", "orders", "order.get")
		if r.code != 1 || !strings.Contains(r.stderr, "cannot reach Kafka at "+addr) {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("dev session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		dev := exec.CommandContext(ctx, bin, "dev", "--port", "0")
		stdout, err := dev.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		dev.Stderr = &stderr
		if err := dev.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		var banner []string
		for lines.Scan() {
			banner = append(banner, lines.Text())
			if strings.Contains(lines.Text(), "Ctrl-C stops") {
				break
			}
		}
		m := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`).FindStringSubmatch(strings.Join(banner, "\n"))
		if m == nil {
			dev.Process.Kill()
			dev.Wait()
			t.Fatalf("no address in dev's output:\n%s\n%s", strings.Join(banner, "\n"), stderr.String())
		}
		env := []string{"KAFKA_BOOTSTRAP_SERVERS=" + m[1]}

		if r := run(t, bin, env, "produce", "greetings", "hello.world", "--create", "--data", `{"to":"you"}`); r.code != 0 {
			t.Errorf("produce: exit %d\n%s", r.code, r.stderr)
		}
		r := run(t, bin, env, "tail", "greetings", "--from-beginning", "--max-events", "1")
		if r.code != 0 || !strings.Contains(r.stdout, `"event":"hello.world"`) || !strings.Contains(r.stdout, `"audit_log":[{`) {
			t.Errorf("tail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = run(t, bin, env, "request", "greetings", "hello.anyone", "--timeout", "1s")
		if r.code != 3 || !strings.Contains(r.stderr, "no reply") {
			t.Errorf("request without responder: exit %d, want 3\n%s", r.code, r.stderr)
		}

		// Ctrl-C stops it cleanly.
		if err := dev.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for lines.Scan() {
			rest = append(rest, lines.Text())
		}
		if err := dev.Wait(); err != nil {
			t.Errorf("dev after Ctrl-C: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(strings.Join(rest, "\n"), "kafka-broker dev: stopped") {
			t.Errorf("dev did not say it stopped: %q", rest)
		}
	})
}
