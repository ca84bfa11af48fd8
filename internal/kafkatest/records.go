package kafkatest

import (
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ReadTopic returns the first n records of topic, read from the beginning by
// a plain consumer in a group of its own; it fails the test when fewer
// arrive within timeout.
func ReadTopic(tb testing.TB, topic string, n int, timeout time.Duration) []*kafka.Message {
	tb.Helper()
	c, err := kafka.NewConsumer(ClientConfig(tb, kafka.ConfigMap{
		"group.id":           Name(tb, "reader"),
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
	}))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		tb.Fatal(err)
	}
	var out []*kafka.Message
	var errs []string
	perPart := map[int32]int{}
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error == nil {
				out = append(out, e)
				perPart[e.TopicPartition.Partition]++
			} else {
				errs = append(errs, e.TopicPartition.Error.Error())
			}
		case kafka.Error:
			errs = append(errs, e.Error())
		}
	}
	if len(out) < n {
		tb.Fatalf("read %d records from %s within %v, want %d (per partition %v, errors %v)", len(out), topic, timeout, n, perPart, errs)
	}
	return out
}

// Header returns the value of m's header key, or "" when m has none.
func Header(m *kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
