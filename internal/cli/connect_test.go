package cli_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	addr := kafkatest.ClosedAddr(t)
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"request flag", nil, []string{"request", "orders", "order.get", "--bootstrap-servers", addr}},
		{"request env", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"request", "orders", "order.get"}},
		{"produce", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"produce", "orders", "order.new"}},
		{"tail", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"tail", "orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := run(t, tt.vars, tt.args...)
			if r.code != cli.ExitError {
				t.Errorf("exit %d, want %d", r.code, cli.ExitError)
			}
			for _, w := range []string{"cannot reach Kafka at " + addr, "kafka-broker dev"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v to report a refused connection", d)
			}
		})
	}
}

// blackHole returns the address of a TCP listener that accepts connections
// and never answers: a server that is not Kafka.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make(chan net.Conn, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestConnectTimeout runs the commands against a server that accepts TCP
// connections but is not Kafka: each gives up when --connect-timeout ends,
// naming the address, and request says nothing of topics it never created.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	addr := blackHole(t)
	const timeout = 3 * time.Second
	for _, args := range [][]string{
		{"request", "orders", "order.get"},
		{"produce", "orders", "order.new"},
		{"tail", "orders"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := run(t, map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, append(args, "--connect-timeout", timeout.String())...)
			took := time.Since(start)
			t.Logf("exit %d after %v:\n%s", r.code, took.Round(time.Millisecond), r.stderr)
			if r.code != cli.ExitError {
				t.Errorf("exit %d, want %d", r.code, cli.ExitError)
			}
			for _, w := range []string{"no Kafka broker answered at " + addr, "within --connect-timeout 3s"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			if strings.Contains(r.stderr, "delete") {
				t.Error("stderr speaks of deleting topics")
			}
			// Generous for a loaded machine; it took 13 s when the
			// deadline was not shared by the connecting steps.
			if took > timeout+2*time.Second {
				t.Errorf("took %v with --connect-timeout %v", took, timeout)
			}
		})
	}
}
