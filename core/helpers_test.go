package core_test

import (
	"context"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// testConfig returns a Config on the test broker with a Location unique to the test.
func testConfig(t testing.TB) core.Config {
	t.Helper()
	return core.Config{
		BootstrapServers: kafkatest.Bootstrap(t),
		Location:         kafkatest.Name(t, "svc"),
		InitialBackoff:   10 * time.Millisecond,
		MaxBackoff:       50 * time.Millisecond,
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("KB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newManager returns a manager closed at the end of the test.
func newManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	opts = append([]core.Option{core.WithLogger(testLogger())}, opts...)
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// startManager returns a manager whose consumer runs.
func startManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	m := newManager(t, cfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawProduce writes value to topic with a plain confluent-kafka-go producer.
func rawProduce(t testing.TB, topic string, key, value []byte, headers ...kafka.Header) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": kafkatest.Bootstrap(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
		Key:            key, Value: value, Headers: headers,
	}, dr); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-dr:
		if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("raw produce: no delivery report")
	}
}

// readTopic returns the first n records of topic, failing after the timeout.
func readTopic(t testing.TB, topic string, n int, timeout time.Duration) []*kafka.Message {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  kafkatest.Bootstrap(t),
		"group.id":           kafkatest.Name(t, "reader"),
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	var out []*kafka.Message
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		if m, ok := c.Poll(100).(*kafka.Message); ok && m.TopicPartition.Error == nil {
			out = append(out, m)
		}
	}
	if len(out) < n {
		t.Fatalf("read %d records from %s, want %d", len(out), topic, n)
	}
	return out
}

func header(m *kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

type rawRecord struct {
	partition  int32
	key, value []byte
}

// rawProduceAll writes recs in order with a plain producer and waits for all acks.
func rawProduceAll(t testing.TB, topic string, recs []rawRecord) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": kafkatest.Bootstrap(t), "enable.idempotence": true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, len(recs))
	for _, r := range recs {
		if err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: r.partition},
			Key:            r.key, Value: r.value,
		}, dr); err != nil {
			t.Fatal(err)
		}
	}
	for range recs {
		select {
		case e := <-dr:
			if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
				t.Fatal(m.TopicPartition.Error)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("raw produce: missing delivery reports")
		}
	}
}
