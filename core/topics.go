package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ErrUnknownTopic is wrapped by the errors of Produce, Request and Reply to a
// topic that does not exist. The library's producer never creates topics
// (librdkafka's allow.auto.create.topics is false unless Config.Kafka sets
// it), so that no record, least of all a reply addressed by a stranger, can
// bring a topic into being.
var ErrUnknownTopic = errors.New("kafka-broker: topic does not exist")

// topicInfo is what the directory knows of a topic.
type topicInfo struct {
	exists     bool
	partitions int
}

// How long the directory trusts what it learned: a topic that exists rarely
// stops existing; one that does not may be created any moment.
const (
	topicKnownTTL   = 5 * time.Minute
	topicUnknownTTL = 2 * time.Second
	topicCacheMax   = 4096
)

// topicDirectory tells whether topics exist and how many partitions they
// have, from metadata requests that never create the topic they name
// (DescribeTopics; a plain metadata request for one topic would create it on
// brokers that allow auto-creation), cached. Safe for concurrent use.
type topicDirectory struct {
	*describeCache[topicInfo]
}

func newTopicDirectory(describe func(context.Context, string) (topicInfo, error)) *topicDirectory {
	return &topicDirectory{newDescribeCache(describe, ttlOf, topicCacheMax)}
}

// describeWith describes one topic through admin, bounded by ctx and at most 10s.
func describeWith(admin *kafka.AdminClient) func(context.Context, string) (topicInfo, error) {
	return func(ctx context.Context, topic string) (topicInfo, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs(ctx, 10*time.Second))*time.Millisecond)
		defer cancel()
		res, err := admin.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{topic}))
		if err != nil {
			return topicInfo{}, err
		}
		if len(res.TopicDescriptions) != 1 {
			return topicInfo{}, fmt.Errorf("describe topic %s: %d results", topic, len(res.TopicDescriptions))
		}
		d := res.TopicDescriptions[0]
		switch d.Error.Code() {
		case kafka.ErrNoError:
			return topicInfo{exists: true, partitions: len(d.Partitions)}, nil
		case kafka.ErrUnknownTopicOrPart, kafka.ErrUnknownTopic:
			return topicInfo{}, nil
		}
		return topicInfo{}, d.Error
	}
}

func ttlOf(info topicInfo) time.Duration {
	if info.exists {
		return topicKnownTTL
	}
	return topicUnknownTTL
}

// require returns nil when topic exists, an error wrapping ErrUnknownTopic
// when it does not, and the brokers' error when they could not say.
func (d *topicDirectory) require(ctx context.Context, topic string) (topicInfo, error) {
	info, err := d.get(ctx, topic)
	if err != nil {
		return info, fmt.Errorf("look up topic %s: %w", topic, err)
	}
	if !info.exists {
		return info, fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
	}
	return info, nil
}
