// Package kafkatest gives tests a Kafka broker: the one named by
// KAFKA_BOOTSTRAP_SERVERS when set (the real-Kafka tier), otherwise one
// embedded broker shared by the tests of a package. Topic and group names it
// hands out are unique, so tests can share a broker.
package kafkatest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kafka-broker/kafka-broker-go/embedded"
)

var (
	mu      sync.Mutex
	cluster *embedded.Cluster
	seq     atomic.Uint64
	runID   = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff)
)

// External reports whether tests run against an external broker.
func External() bool { return os.Getenv("KAFKA_BOOTSTRAP_SERVERS") != "" }

// Bootstrap returns the bootstrap servers of the test broker, starting the
// embedded one on first use.
func Bootstrap(tb testing.TB) string {
	tb.Helper()
	if s := os.Getenv("KAFKA_BOOTSTRAP_SERVERS"); s != "" {
		return s
	}
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil {
		c, err := embedded.Start()
		if err != nil {
			tb.Fatalf("start embedded broker: %v", err)
		}
		cluster = c
	}
	return cluster.BootstrapServers()
}

// Name returns a name unique to this test run: prefix, the test's name and a
// counter, usable as a topic or group.
func Name(tb testing.TB, prefix string) string {
	tb.Helper()
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, tb.Name())
	if len(n) > 60 {
		n = n[:60]
	}
	return fmt.Sprintf("%s-%s-%s-%d", prefix, n, runID, seq.Add(1))
}

// Main runs the package's tests, stops the embedded broker, and fails when
// goroutines leaked. Call it from TestMain.
func Main(m *testing.M) {
	before := goleak.IgnoreCurrent()
	code := m.Run()
	mu.Lock()
	if cluster != nil {
		cluster.Close()
		cluster = nil
	}
	mu.Unlock()
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
