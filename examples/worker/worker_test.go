package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// produce writes a record as kcat -P -k key -H name=value does.
func produce(t *testing.T, topic, key, value string, headers ...kafka.Header) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"log_level": 0}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key: []byte(key), Value: []byte(value), Headers: headers}, done); err != nil {
		t.Fatal(err)
	}
	if m := (<-done).(*kafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
}

// TestRequestsFromOtherProducers sends the worker the records of the
// README's kcat lines ("What a request must carry for a reply"): a
// seed-format envelope with "audit_log": [] and a kafka_replyTopic header
// naming an existing *.replies topic gets its reply there; the same without
// the header is handled, but its reply is refused and the request
// dead-lettered with kind reply_refused.
func TestRequestsFromOtherProducers(t *testing.T) {
	t.Parallel()
	location := kafkatest.Name(t, "worker")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := worker.Start(ctx, kafkatest.Bootstrap(t), location)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	replies := kafkatest.Name(t, "my-tool") + ".replies"
	kafkatest.CreateTopic(t, replies, 1)

	const envelope = `{"correlation_id":"%s","status":"pending","event":"greeter.hello","data":{"name":"kcat"},"audit_log":[]}`
	produce(t, location, "kcat-1", fmt.Sprintf(envelope, "kcat-1"), kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(replies)})
	rec := kafkatest.ReadTopic(t, replies, 1, time.Minute)[0]
	var reply core.EventObject
	if err := json.Unmarshal(rec.Value, &reply); err != nil {
		t.Fatal(err)
	}
	var data worker.HelloOut
	if err := reply.Decode(&data); err != nil || string(rec.Key) != "kcat-1" || reply.Status != core.StatusCompleted ||
		data.Message != "Hello, kcat!" {
		t.Errorf("reply %s %s (%v), want Hello, kcat! for kcat-1", rec.Key, rec.Value, err)
	}

	produce(t, location, "kcat-2", fmt.Sprintf(envelope, "kcat-2"))
	dl := kafkatest.ReadTopic(t, location+".dlq", 1, time.Minute)[0]
	if string(dl.Key) != "kcat-2" || kafkatest.Header(dl, core.HeaderDLTErrorKind) != core.DeadLetterReplyRefused {
		t.Errorf("dead letter %s with kind %q, want kcat-2 with %q", dl.Key, kafkatest.Header(dl, core.HeaderDLTErrorKind),
			core.DeadLetterReplyRefused)
	}
}
