package cli_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/cli"
)

func TestDev(t *testing.T) {
	t.Parallel()
	c := newCmd(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- c.run(ctx, "dev", "--port", "0", "--partitions", "1") }()
	c.stdout.waitFor(t, "Ctrl-C stops the broker.")
	addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`).FindStringSubmatch(c.stdout.String())
	if addr == nil {
		t.Fatalf("no address in:\n%s", c.stdout.String())
	}
	if !strings.Contains(c.stdout.String(), "in memory only") {
		t.Errorf("dev does not say the data is in memory only:\n%s", c.stdout.String())
	}

	// Any Kafka client can use it: the other commands do.
	vars := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr[1]}
	if r := run(t, vars, "produce", "greetings", "hello.world", "--create", "--data", `{"to":"dev"}`); r.code != 0 {
		t.Fatalf("produce: exit %d\n%s", r.code, r.stderr)
	}
	r := run(t, vars, "tail", "greetings", "--from-beginning", "--max-events", "1")
	if evs := jsonLines(t, r.stdout); r.code != 0 || len(evs) != 1 || evs[0].Event != "hello.world" {
		t.Fatalf("tail: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "(1 partition)") {
		t.Errorf("--partitions 1 not applied: %s", r.stderr)
	}

	cancel() // Ctrl-C
	r = <-done
	if r.code != 0 || !strings.HasSuffix(r.stdout, "kafka-broker dev: stopped\n") {
		t.Fatalf("dev: exit %d, stdout %q", r.code, r.stdout)
	}
	if _, err := net.DialTimeout("tcp", addr[1], time.Second); err == nil {
		t.Error("the broker still accepts connections after stopping")
	}
}

func TestDevPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := run(t, nil, "dev", "--port", strconv.Itoa(port))
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "is in use") {
		t.Fatalf("exit %d, stderr %q; want 1 and 'is in use'", r.code, r.stderr)
	}
}
