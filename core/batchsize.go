package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// A broker measures a topic's max.message.bytes against a whole batch, and
// librdkafka fails every record of a batch the broker refused (it does not
// split batches as the Java client does). So a record much smaller than the
// limit is refused when it shares a batch with one too large, or with enough
// others. Such a record is not at fault: sent again, in another batch, it is
// written. sizeLimits tells the two apart by the topic's limit.

// errRefusedWithBatch marks a refusal for size of a record that fits its
// topic on its own. Retrying it can succeed: it is not a permanent error,
// and it is not the record's size that was refused (sizeRefused is false).
var errRefusedWithBatch = errors.New("refused for the size of the batch it was in; it fits its topic on its own")

// batchRetries bounds the sends again of a record refused with its batch.
const batchRetries = 5

const (
	sizeLimitTTL  = time.Minute
	sizeLimitsMax = 1024
)

// sizeLimits knows the max.message.bytes of topics, asked of the brokers
// (DescribeConfigs) only when a record was refused for size, and cached.
// Safe for concurrent use; a nil *sizeLimits classifies nothing.
type sizeLimits struct {
	*describeCache[int]
}

func newSizeLimits(describe func(context.Context, string) (int, error)) *sizeLimits {
	return &sizeLimits{newDescribeCache(describe, func(int) time.Duration { return sizeLimitTTL }, sizeLimitsMax)}
}

// classify returns err, a delivery error of msg, wrapped with
// errRefusedWithBatch when the brokers refused msg for size though it fits
// its topic on its own. When the limit cannot be learned, err is returned as
// it is: the record is taken to be too large.
func (l *sizeLimits) classify(ctx context.Context, msg *kafka.Message, err error) error {
	if l == nil || !sizeRefused(err) || msg.TopicPartition.Topic == nil {
		return err
	}
	limit, lerr := l.get(ctx, *msg.TopicPartition.Topic)
	if lerr != nil || recordBound(msg) > limit {
		return err
	}
	return fmt.Errorf("%w (%w)", err, errRefusedWithBatch)
}

// recordBound is at least the bytes msg takes in a batch of its own, as
// the broker measures it against max.message.bytes: the v2 batch header
// (61 bytes) and the record with every varint at its widest, uncompressed.
func recordBound(msg *kafka.Message) int {
	const batchHeader, recordFields, headerFields = 61, 5 + 1 + 10 + 5 + 5 + 5 + 5, 5 + 5
	return batchHeader + recordFields + recordSize(msg) + headerFields*len(msg.Headers)
}

// maxMessageBytes reads topic's max.message.bytes (what the brokers
// enforce for it, its own setting or their default), bounded by ctx and at
// most 10 s.
func (ad *admin) maxMessageBytes(ctx context.Context, topic string) (int, error) {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs(ctx, 10*time.Second))*time.Millisecond)
	defer cancel()
	res, err := ad.a.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic}})
	if err != nil {
		return 0, err
	}
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			return 0, r.Error
		}
		if e, ok := r.Config["max.message.bytes"]; ok {
			return strconv.Atoi(e.Value)
		}
	}
	return 0, fmt.Errorf("describe configs of topic %s: no max.message.bytes", topic)
}
