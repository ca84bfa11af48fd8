package core_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// TestRequestOnly checks Config.RequestOnly: InitConsumer creates the reply
// topic and no Location or dead-letter topic, joins no consumer group, and
// Request and Produce work.
func TestRequestOnly(t *testing.T) {
	t.Parallel()
	echo := core.NewEventRouter("echo")
	echo.BindEvent("back", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, ev.Data)
	})
	root := core.NewEventRouter("svc")
	root.IncludeBinder(echo)
	svc := startRouted(t, kafkatest.Config(t, "svc"), root)

	cfg := kafkatest.Config(t, "requester")
	cfg.RequestOnly = true
	m := startManager(t, cfg)
	cfg = m.Config()
	if !m.Ready() {
		t.Fatal("a request-only manager is not ready after InitConsumer")
	}

	ctx := kafkatest.Context(t, 60*time.Second)
	ev, _ := core.NewEventObject("echo.back", map[string]int{"n": 7})
	reply, err := m.Request(ctx, svc.Config().Location, ev)
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	var data struct{ N int }
	if err := reply.Decode(&data); err != nil || data.N != 7 || reply.CorrelationID != ev.CorrelationID {
		t.Fatalf("reply %+v (%v), want n=7 for %s", reply, err, ev.CorrelationID)
	}
	ev2, _ := core.NewEventObject("echo.none", nil)
	if err := m.Produce(ctx, svc.Config().Location, ev2); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if lag := m.Lag(); lag != nil {
		t.Errorf("Lag = %v, want none: no Location is consumed", lag)
	}

	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	md, err := a.GetMetadata(nil, true, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(topic string) bool {
		tm, ok := md.Topics[topic]
		return ok && tm.Error.Code() == kafka.ErrNoError
	}
	if !exists(cfg.ReplyTopic) {
		t.Errorf("reply topic %s was not created", cfg.ReplyTopic)
	}
	for _, topic := range []string{cfg.Location, cfg.DeadLetterTopic} {
		if exists(topic) {
			t.Errorf("topic %s was created, want only the reply topic", topic)
		}
	}
	groups, err := a.ListConsumerGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(groups.Valid, func(g kafka.ConsumerGroupListing) bool { return g.GroupID == cfg.GroupID }) {
		t.Errorf("group %s exists: a request-only manager joined it", cfg.GroupID)
	}
}
