package cli_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestProduceAndTail(t *testing.T) {
	t.Parallel()
	topic := kafkatest.Name(t, "orders")
	loc := kafkatest.Name(t, "cli")
	vars := map[string]string{"KAFKA_LOCATION": loc}
	// The topic must exist before tail starts; this event is before tail's start.
	if r := run(t, vars, "produce", topic, "seed.event", "--create"); r.code != 0 {
		t.Fatalf("produce seed: exit %d\n%s", r.code, r.stderr)
	}

	tailCmd := newCmd(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- tailCmd.run(ctx, "tail", topic, "--event", "order.*", "--max-events", "2")
	}()
	tailCmd.stderr.waitFor(t, "Ctrl-C stops")

	var sent []*core.EventObject
	for _, e := range []struct{ event, data string }{
		{"order.created", `{"id":1}`},
		{"user.created", `{"id":2}`},
		{"order.item.added", `{"id":3}`},
		{"order.paid", `{"id":4}`},
	} {
		r := run(t, vars, "produce", topic, e.event, "--data", e.data)
		if r.code != 0 {
			t.Fatalf("produce %s: exit %d\n%s", e.event, r.code, r.stderr)
		}
		evs := jsonLines(t, r.stdout)
		if len(evs) != 1 || evs[0].Event != e.event {
			t.Fatalf("produce printed %q", r.stdout)
		}
		sent = append(sent, evs[0])
	}

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("tail did not stop after 2 events; stdout:\n%s", tailCmd.stdout.String())
	}
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	got := jsonLines(t, r.stdout)
	if len(got) != 2 {
		t.Fatalf("tail printed %d events, want 2:\n%s", len(got), r.stdout)
	}
	// Partitions are read concurrently: compare as a set.
	want := map[string]string{sent[0].CorrelationID: "order.created", sent[3].CorrelationID: "order.paid"}
	for _, ev := range got {
		if want[ev.CorrelationID] != ev.Event {
			t.Errorf("tail printed %s %s, want only order.created and order.paid", ev.Event, ev.CorrelationID)
		}
		if len(ev.AuditLog) != 1 || ev.AuditLog[0].Location != loc || ev.AuditLog[0].TimeSent == 0 {
			t.Errorf("audit trail %+v, want one hop from %s", ev.AuditLog, loc)
		}
	}
	if sent[0].AuditLog[0].Location != loc {
		t.Errorf("produce printed trail %+v", sent[0].AuditLog)
	}
}

func TestTailFromBeginningHuman(t *testing.T) {
	t.Parallel()
	topic := kafkatest.Name(t, "orders")
	p := run(t, nil, "produce", topic, "order.shipped", "--create", "--data", `{"id": 9}`, "--format", "human",
		"--correlation-id", "cid-123")
	if p.code != 0 {
		t.Fatalf("produce: exit %d\n%s", p.code, p.stderr)
	}
	if want := "→ " + topic + " order.shipped pending id=cid-123 data={\"id\":9} trail: kafka-broker-cli "; !strings.Contains(p.stdout, want) {
		t.Errorf("produce printed %q, want it to contain %q", p.stdout, want)
	}
	r := run(t, nil, "tail", topic, "--from-beginning", "--max-events", "1", "--format", "human")
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} ` + regexp.QuoteMeta(topic) +
		`/\d+@0 order\.shipped pending id=cid-123 data=\{"id":9\} trail: kafka-broker-cli \d\d:\d\d:\d\d\n$`)
	if !line.MatchString(r.stdout) {
		t.Errorf("tail printed %q, want a line matching %s", r.stdout, line)
	}
	if !strings.Contains(r.stderr, "from the beginning") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestTailMissingTopic(t *testing.T) {
	t.Parallel()
	topic := kafkatest.Name(t, "missing")
	r := run(t, nil, "tail", topic)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("exit %d, stderr %q; want 1 and 'does not exist'", r.code, r.stderr)
	}
}

func TestTailReportsNonEvents(t *testing.T) {
	t.Parallel()
	topic := kafkatest.Name(t, "mixed")
	if r := run(t, nil, "produce", topic, "first.event", "--create"); r.code != 0 {
		t.Fatalf("produce: %d %s", r.code, r.stderr)
	}
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"log_level": 0}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The bad record and then an event, both on partition 0: tail meets the
	// bad record before it can print its second event.
	second, _ := core.NewEventObject("second.event", nil)
	secondJSON, err := second.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	deliveries := make(chan kafka.Event, 1)
	for _, v := range [][]byte{[]byte("not json"), secondJSON} {
		if err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
			Value:          v,
		}, deliveries); err != nil {
			t.Fatal(err)
		}
		if m := (<-deliveries).(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	}
	r := run(t, nil, "tail", topic, "--from-beginning", "--max-events", "2")
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	if evs := jsonLines(t, r.stdout); len(evs) != 2 {
		t.Errorf("printed %d events, want 2", len(evs))
	}
	if !strings.Contains(r.stderr, "is not an event (not_json): record value is not valid JSON") {
		t.Errorf("stderr lacks the skipped record:\n%s", r.stderr)
	}
}
