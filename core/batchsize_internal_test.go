package core

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// classify blames the batch only when the record fits its topic on its
// own, asks the brokers once per topic, and takes a record to be too large
// when the limit cannot be learned.
func TestSizeLimitsClassify(t *testing.T) {
	t.Parallel()
	asked := 0
	limits := newSizeLimits(func(_ context.Context, topic string) (int, error) {
		asked++
		if topic == "unknown" {
			return 0, errors.New("no answer")
		}
		return 1000, nil
	})
	refused := produceError("t", kafka.NewError(kafka.ErrMsgSizeTooLarge, "too large", false))
	record := func(topic string, n int) *kafka.Message {
		return &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic}, Value: []byte(strings.Repeat("x", n))}
	}
	tests := []struct {
		name      string
		msg       *kafka.Message
		err       error
		withBatch bool
	}{
		{"small: refused with its batch", record("t", 100), refused, true},
		{"too large on its own", record("t", 1000), refused, false},
		{"just fits, headers counted", &kafka.Message{TopicPartition: record("t", 0).TopicPartition,
			Value: make([]byte, 1000-61-36-10-3), Headers: []kafka.Header{{Key: "abc"}}}, refused, true},
		{"one byte over", &kafka.Message{TopicPartition: record("t", 0).TopicPartition,
			Value: make([]byte, 1000-61-36-10-2), Headers: []kafka.Header{{Key: "abc"}}}, refused, false},
		{"limit unknown", record("unknown", 10), refused, false},
		{"not a size error", record("t", 10), errors.New("other"), false},
	}
	for _, tt := range tests {
		err := limits.classify(context.Background(), tt.msg, tt.err)
		if got := errors.Is(err, errRefusedWithBatch); got != tt.withBatch {
			t.Errorf("%s: %v: refused with its batch %v, want %v", tt.name, err, got, tt.withBatch)
		}
		if tt.withBatch && (sizeRefused(err) || permanentProduceError(err)) {
			t.Errorf("%s: a record refused with its batch counts as too large (%v)", tt.name, err)
		}
	}
	if asked != 2 {
		t.Errorf("the brokers were asked %d times, want once per topic (2)", asked)
	}
	var none *sizeLimits
	if err := none.classify(context.Background(), record("t", 1), refused); err != refused { //nolint:errorlint // the very error, not wrapped
		t.Errorf("a nil sizeLimits changed the error: %v", err)
	}
}
