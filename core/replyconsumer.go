package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"
)

// replyConsumer reads every partition of the reply topics without group
// membership, from their ends as they were when it was positioned, and
// hands each record to handle. Nothing is committed.
type replyConsumer struct {
	c       *kafka.Consumer
	topics  []string
	brokers string
	handle  func(*kafka.Message)
	log     *slog.Logger
	closing <-chan struct{} // the manager's Close began
	// guard and admin end a start at once on what no retry fixes.
	guard   *startGuard
	admin   *admin
	stop    chan struct{}
	done    chan struct{}
	started bool // poll runs
}

func newReplyConsumer(conf clientConf, groupID string, topics []string, handle func(*kafka.Message),
	log *slog.Logger, closing <-chan struct{}, guard *startGuard, ad *admin) (*replyConsumer, error) {
	c, err := kafka.NewConsumer(conf.with(kafka.ConfigMap{
		// Required by confluent-kafka-go; never used to join a group.
		"group.id":           groupID + ".replies." + uuid.NewString(),
		"enable.auto.commit": false,
		"auto.offset.reset":  "latest",
		// librdkafka's default, said aloud: a reply an exactly-once
		// responder wrote in a transaction is seen once it commits, and
		// never when it aborts.
		"isolation.level":   "read_committed",
		"fetch.wait.max.ms": 100,
	}))
	if err != nil {
		return nil, errorf("kafka-broker: create reply consumer: %w", err)
	}
	return &replyConsumer{c: c, topics: topics, brokers: conf.brokers, handle: handle, log: log, closing: closing,
		guard: guard, admin: ad,
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// position assigns all partitions of the reply topics at their high
// watermarks, so every reply produced after it returns is read. A topic just
// created may take a moment to have leaders: that is retried until ctx ends.
func (r *replyConsumer) position(ctx context.Context) error {
	if err := r.admin.checkReadable(ctx, r.topics); err != nil {
		return err
	}
	var all []kafka.TopicPartition
	for _, topic := range r.topics {
		for {
			tps, err := r.watermarks(ctx, topic)
			if err == nil {
				all = append(all, tps...)
				break
			}
			if serr := r.guard.take(); serr != nil {
				return serr
			}
			if kerr := (kafka.Error{}); errors.As(err, &kerr) && notAuthorized(kerr.Code()) {
				return errorf("kafka-broker: not authorized to read reply topic %s (brokers %s): %w; the principal needs READ on topic %s",
					topic, r.brokers, err, topic)
			}
			select {
			case <-ctx.Done():
				return errorf("kafka-broker: position reply consumer on %s (brokers %s): %w (last error: %w)",
					topic, r.brokers, ctx.Err(), err)
			case <-r.closing:
				return ErrClosed
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err := r.c.Assign(all); err != nil {
		return errorf("kafka-broker: assign reply topics: %w", err)
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
			return nil, fmt.Errorf("partition %s/%d not ready: %w", topic, p.ID, p.Error)
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
				r.handle(e)
			}
		case kafka.Error:
			r.guard.noteClient(e)
			// The random group.id confluent-kafka-go requires is never
			// joined, but librdkafka looks up its coordinator: without an
			// ACL for it that fails, and harms nothing.
			if c := e.Code(); c != kafka.ErrAllBrokersDown && c != kafka.ErrTransport && c != kafka.ErrGroupAuthorizationFailed {
				r.log.Warn("kafka-broker: reply consumer error", "error", e)
			}
		}
	}
}

// close stops reading and releases the consumer; it joins no group, so
// closing does not wait for the brokers.
func (r *replyConsumer) close() {
	close(r.stop)
	if r.started {
		<-r.done
	}
	if err := r.c.Close(); err != nil {
		r.log.Warn("kafka-broker: close reply consumer", "error", err)
	}
}
