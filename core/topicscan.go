package core

import (
	"context"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// offsetRange is a range of offsets of one partition to read: [start, end).
type offsetRange struct {
	partition  int32
	start, end int64
}

// ranges returns the range of each partition of topic from its first offset
// (or from[p] when given and later) to its end now.
func ranges(ctx context.Context, c *kafka.Consumer, topic string, partitions []int32, from map[int32]int64) ([]offsetRange, error) {
	out := make([]offsetRange, 0, len(partitions))
	for _, p := range partitions {
		low, high, err := c.QueryWatermarkOffsets(topic, p, timeoutMs(ctx, 30*time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, errorf("kafka-broker: offsets of %s/%d: %w", topic, p, err)
		}
		start := low
		if f, ok := from[p]; ok && f > start {
			start = min(f, high)
		}
		out = append(out, offsetRange{partition: p, start: start, end: high})
	}
	return out, nil
}

// authGrace is how long a refusal to read a topic may last before a scan
// gives up: an ACL just granted takes a moment to reach every broker.
const authGrace = 2 * time.Second

// scan reads the ranges of topic with c, calling fn with each record in
// offset order within its partition, until every range is read or ctx ends.
// A partition is done at its range's last offset, or at its end of data (a
// read_committed consumer stops before an open transaction). idle runs when
// a poll returned nothing.
func scan(ctx context.Context, c *kafka.Consumer, topic string, ss []offsetRange, fn func(*kafka.Message) error, idle func() error) error {
	pending := map[int32]int64{} // partition -> end
	var tps []kafka.TopicPartition
	for _, s := range ss {
		if s.start >= s.end {
			continue
		}
		pending[s.partition] = s.end
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: s.partition, Offset: kafka.Offset(s.start)})
	}
	if len(tps) == 0 {
		return nil
	}
	if err := c.Assign(tps); err != nil {
		return errorf("kafka-broker: assign %s: %w", topic, err)
	}
	defer func() { _ = c.Unassign() }()
	var refused kafka.Error // a READ refusal not followed by a record yet
	var refusedAt time.Time
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !refusedAt.IsZero() && time.Since(refusedAt) > authGrace {
			return errorf("kafka-broker: not authorized to read topic %s: %w; the principal needs READ on topic %s", topic, refused, topic)
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			refusedAt = time.Time{}
			if e.TopicPartition.Error != nil {
				return errorf("kafka-broker: read %s/%d: %w", topic, e.TopicPartition.Partition, e.TopicPartition.Error)
			}
			p, off := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			end, ok := pending[p]
			if !ok || off >= end {
				continue
			}
			if off >= end-1 {
				delete(pending, p)
			}
			if err := fn(e); err != nil {
				return err
			}
		case kafka.PartitionEOF:
			delete(pending, e.Partition)
		case kafka.Error:
			if e.Code() == kafka.ErrTopicAuthorizationFailed && refusedAt.IsZero() {
				refused, refusedAt = e, time.Now() // the client retries; an ACL just granted may still be on its way
			}
			if e.IsFatal() {
				return errorf("kafka-broker: read %s: %w", topic, e)
			}
		case nil:
			if idle != nil {
				if err := idle(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
