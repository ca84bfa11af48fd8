package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// newManager returns a manager closed at the end of the test.
func newManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	opts = append([]core.Option{core.WithLogger(kafkatest.Logger())}, opts...)
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

// rawProduce writes value to topic with a plain confluent-kafka-go producer.
func rawProduce(t testing.TB, topic string, key, value []byte, headers ...kafka.Header) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, nil))
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

type rawRecord struct {
	partition  int32
	key, value []byte
}

// rawProduceAll writes recs in order with a plain producer and waits for all acks.
func rawProduceAll(t testing.TB, topic string, recs []rawRecord) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"enable.idempotence": true}))
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

// startRouted returns a manager whose consumer runs with router r, set
// before the first record can arrive.
func startRouted(t testing.TB, cfg core.Config, r *core.EventRouter, opts ...core.Option) *core.Manager {
	t.Helper()
	m := newManager(t, cfg, opts...)
	m.SetRouter(r)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

// pendingRequest makes m send a Request to a topic nobody reads and returns
// its event once it waits for a reply; the Request's result comes on the
// channel.
func pendingRequest(t *testing.T, m *core.Manager) (*core.EventObject, <-chan error) {
	t.Helper()
	ev, _ := core.NewEventObject("ask.question", nil)
	errs := make(chan error, 1)
	before := m.Stats().Pending
	go func() {
		_, err := m.Request(kafkatest.Context(t, 60*time.Second), kafkatest.Topic(t, "nobody", 1), ev)
		errs <- err
	}()
	waitFor(t, func() bool { return m.Stats().Pending > before })
	return ev, errs
}

// pythonReply is the reply to req as a Python responder writes it: to the
// requester's Location, status completed, the responder's audit hop last.
func pythonReply(t *testing.T, requester string, req *core.EventObject) []byte {
	t.Helper()
	reply := &core.EventObject{CorrelationID: req.CorrelationID, Status: core.StatusCompleted, Event: req.Event,
		AuditLog: []core.AuditEntry{{Location: requester, Event: req.Event, TimeSent: 1}, {Location: "py-svc", Event: req.Event, TimeSent: 2}}}
	b, err := reply.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receive returns the next value from ch; the test fails when none comes
// within a minute, saying what it waited for.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("waited a minute for %s", what)
		panic("unreachable")
	}
}
