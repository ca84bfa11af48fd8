package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"
)

// replyConsumer reads every partition of the reply topic without group
// membership, from the end as it was when InitConsumer ran, and hands each
// reply to the Request (or ConsumerStorage.Consume) awaiting it. Replies for
// other instances of the service are skipped. Nothing is committed.
type replyConsumer struct {
	m       *Manager
	c       *kafka.Consumer
	stop    chan struct{}
	done    chan struct{}
	started bool // poll runs
}

func (m *Manager) newReplyConsumer() (*replyConsumer, error) {
	cc := m.clientConfig(kafka.ConfigMap{
		// Required by confluent-kafka-go; never used to join a group.
		"group.id":           m.cfg.GroupID + ".replies." + uuid.NewString(),
		"enable.auto.commit": false,
		"auto.offset.reset":  "latest",
		"fetch.wait.max.ms":  100,
	})
	c, err := kafka.NewConsumer(cc)
	if err != nil {
		return nil, fmt.Errorf("kafka-broker: create reply consumer: %w", err)
	}
	return &replyConsumer{m: m, c: c, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// position assigns all partitions of the reply topic at their high
// watermarks, so every reply produced after it returns is read. A topic just
// created may take a moment to have leaders: that is retried until ctx ends.
func (r *replyConsumer) position(ctx context.Context) error {
	if err := r.m.checkReadable(ctx, r.m.replyTopics()); err != nil {
		return err
	}
	var all []kafka.TopicPartition
	for _, topic := range r.m.replyTopics() {
		for {
			tps, err := r.watermarks(ctx, topic)
			if err == nil {
				all = append(all, tps...)
				break
			}
			if serr := r.m.takeStartError(); serr != nil {
				return serr
			}
			if kerr := (kafka.Error{}); errors.As(err, &kerr) && notAuthorized(kerr.Code()) {
				return fmt.Errorf("kafka-broker: not authorized to read reply topic %s (brokers %s): %w; the principal needs READ on topic %s",
					topic, r.m.cfg.BootstrapServers, err, topic)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("kafka-broker: position reply consumer on %s (brokers %s, last error: %v): %w",
					topic, r.m.cfg.BootstrapServers, err, ctx.Err())
			case <-r.m.closing:
				return ErrClosed
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := r.c.Assign(all); err != nil {
		return fmt.Errorf("kafka-broker: assign reply topics: %w", err)
	}
	r.started = true
	go r.poll()
	return nil
}

// watermarks returns every partition of topic at its high watermark.
func (r *replyConsumer) watermarks(ctx context.Context, topic string) ([]kafka.TopicPartition, error) {
	md, err := r.c.GetMetadata(&topic, false, timeoutMs(ctx, 10*time.Second))
	if err != nil {
		return nil, err
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
		return nil, fmt.Errorf("topic %s not ready: %w", topic, tm.Error)
	}
	tps := make([]kafka.TopicPartition, 0, len(tm.Partitions))
	for _, p := range tm.Partitions {
		if p.Error.Code() != kafka.ErrNoError || p.Leader < 0 {
			return nil, fmt.Errorf("partition %s/%d not ready: %v", topic, p.ID, p.Error)
		}
		_, high, err := r.c.QueryWatermarkOffsets(topic, p.ID, timeoutMs(ctx, 10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("watermarks of %s/%d: %w", topic, p.ID, err)
		}
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.Offset(high)})
	}
	return tps, nil
}

func (r *replyConsumer) poll() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		switch e := r.c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error == nil {
				r.m.handleReply(e)
			}
		case kafka.Error:
			r.m.noteClientError(e)
			// The random group.id confluent-kafka-go requires is never
			// joined, but librdkafka looks up its coordinator: without an
			// ACL for it that fails, and harms nothing.
			if c := e.Code(); c != kafka.ErrAllBrokersDown && c != kafka.ErrTransport && c != kafka.ErrGroupAuthorizationFailed {
				r.m.log.Warn("kafka-broker: reply consumer error", "error", e)
			}
		}
	}
}

func (r *replyConsumer) close() {
	close(r.stop)
	if r.started {
		<-r.done
	}
	if err := r.c.Close(); err != nil {
		r.m.log.Warn("kafka-broker: close reply consumer", "error", err)
	}
}

// sharedReplyTopic is where instances forward replies that reached the
// wrong instance: "<Location>.replies", read by every instance.
func (m *Manager) sharedReplyTopic() string { return m.cfg.Location + ".replies" }

// replyTopics are the topics the reply consumer reads: the configured reply
// topic and, when that is an instance's own, the shared one too.
func (m *Manager) replyTopics() []string {
	if m.cfg.ReplyTopic == m.sharedReplyTopic() {
		return []string{m.cfg.ReplyTopic}
	}
	return []string{m.cfg.ReplyTopic, m.sharedReplyTopic()}
}

// handleReply dispatches a record of the reply topic.
func (m *Manager) handleReply(msg *kafka.Message) {
	ev, err := decodeRecord(msg, m.cfg.MaxRecordBytes)
	if err != nil {
		m.log.Warn("kafka-broker: malformed reply skipped", "topic", *msg.TopicPartition.Topic,
			"partition", msg.TopicPartition.Partition, "offset", int64(msg.TopicPartition.Offset), "error", err)
		return
	}
	if m.takeReply(ev) {
		return
	}
	switch kind, sent := m.sent.lookup(ev.CorrelationID); {
	case sent && kind == sentByRequest:
		m.lateReply(ev)
	case sent && kind == sentAnswered:
		m.duplicateReply(ev)
	case sent:
		// Sent with Produce by this instance, awaited with
		// ConsumerStorage.Consume later: keep it there.
		m.storage.put(ev)
		m.stats.stored.Add(1)
	}
	// Otherwise it belongs to another instance.
}
