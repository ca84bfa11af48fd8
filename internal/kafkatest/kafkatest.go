// Package kafkatest gives tests a Kafka broker: the one named by
// KAFKA_BOOTSTRAP_SERVERS when set (the real-Kafka tier), otherwise one
// embedded broker shared by the tests of a package. Topic and group names it
// hands out are unique, so tests can share a broker. It also holds the small
// helpers the packages' tests share: a Config and a Logger for managers, and
// a plain confluent-kafka-go reader for checking what landed on a topic.
package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.uber.org/goleak"

	"github.com/kafka-broker/kafka-broker-go/core"
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
		fmt.Fprintf(os.Stderr, "kafkatest: KAFKA_BOOTSTRAP_SERVERS is unset: using an embedded broker on %s\n", c.BootstrapServers())
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

// Config returns a Config on the test broker with a Location unique to the
// test (see Name), short retry backoffs, and the client properties of
// ClientProps in its Kafka map (never nil).
func Config(tb testing.TB, prefix string) core.Config {
	tb.Helper()
	return core.Config{
		BootstrapServers: Bootstrap(tb),
		Location:         Name(tb, prefix),
		InitialBackoff:   10 * time.Millisecond,
		MaxBackoff:       50 * time.Millisecond,
		Kafka:            ClientProps(),
	}
}

// ClientProps returns the librdkafka properties the environment sets for the
// test broker as KAFKA_PROP_<NAME>=value (KAFKA_PROP_SASL_USERNAME sets
// sasl.username: underscores become dots, as core.ConfigFromEnv reads them),
// such as the secured tier's credentials; an empty map when there are none.
func ClientProps() map[string]any {
	props := map[string]any{}
	if !External() {
		return props
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "KAFKA_PROP_"); ok && name != "" {
			props[strings.ToLower(strings.ReplaceAll(name, "_", "."))] = v
		}
	}
	return props
}

// ClientConfig returns a librdkafka configuration for a plain client of the
// test broker: bootstrap.servers, ClientProps, then extra.
func ClientConfig(tb testing.TB, extra kafka.ConfigMap) *kafka.ConfigMap {
	tb.Helper()
	// As the library's own clients: after a broker was fenced for a
	// moment (a freeze test), bootstrap again within seconds.
	cm := kafka.ConfigMap{"bootstrap.servers": Bootstrap(tb), "metadata.recovery.rebootstrap.trigger.ms": 5000}
	for k, v := range ClientProps() {
		cm[k] = v
	}
	for k, v := range extra {
		cm[k] = v
	}
	return &cm
}

// Logger discards logs unless KB_TEST_LOG is set; then it writes everything
// from debug up to stderr.
func Logger() *slog.Logger {
	if os.Getenv("KB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Context returns a context that ends after d or with the test.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// ClosedAddr returns a loopback address nothing listens on: a broker that
// cannot be reached.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
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

// Topic creates a topic with a name unique to the test (see Name) and
// returns its name: the library's producer never creates topics.
func Topic(tb testing.TB, prefix string, partitions int) string {
	tb.Helper()
	name := Name(tb, prefix)
	CreateTopic(tb, name, partitions)
	return name
}

// CreateTopic creates topic with the given partitions (replication factor:
// the broker's default) and waits until it is known.
func CreateTopic(tb testing.TB, topic string, partitions int) {
	tb.Helper()
	CreateTopicWithConfig(tb, topic, partitions, nil)
}

// CreateTopicWithConfig is CreateTopic with topic configs (max.message.bytes...).
func CreateTopicWithConfig(tb testing.TB, topic string, partitions int, config map[string]string) {
	tb.Helper()
	a, err := kafka.NewAdminClient(ClientConfig(tb, nil))
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := a.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1, Config: config}})
	if err != nil {
		tb.Fatalf("create topic %s: %v", topic, err)
	}
	if c := res[0].Error.Code(); c != kafka.ErrNoError && c != kafka.ErrTopicAlreadyExists {
		tb.Fatalf("create topic %s: %v", topic, res[0].Error)
	}
	for ctx.Err() == nil {
		d, err := a.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{topic}))
		if err == nil && d.TopicDescriptions[0].Error.Code() == kafka.ErrNoError && len(d.TopicDescriptions[0].Partitions) == partitions {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("topic %s not known within a minute", topic)
}

// NewManager returns a manager with cfg and the test logger (opts come
// after it), closed at the end of the test.
func NewManager(tb testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	tb.Helper()
	opts = append([]core.Option{core.WithLogger(Logger())}, opts...)
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		tb.Fatalf("NewManager: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil && !errors.Is(err, core.ErrClosed) {
			tb.Errorf("Close: %v", err)
		}
	})
	return m
}

// Buffer is a bytes.Buffer safe for concurrent writes, for a logger's
// output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
