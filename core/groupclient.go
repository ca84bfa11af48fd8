package core

import (
	"context"
	"fmt"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
)

// Group membership defaults. librdkafka's session timeout (45 s) is how long
// the partitions of a crashed member wait for a new owner, and how long its
// commit and close wait for a coordinator that is gone; 6 s lets another
// instance (or the restarted one) take over within about 8 s. Heartbeats go
// every 2 s, a third of it. Config.Kafka overrides both.
const (
	defaultSessionTimeoutMs    = 6000
	defaultHeartbeatIntervalMs = 2000
)

// groupClient is a librdkafka group consumer seen as a fetch.Consumer. Its
// blocking calls (commit, close) are bounded by their ctx: when the ctx ends
// first they go on in the background, within librdkafka's own bound (the
// session timeout), and close waits for them before it releases the client.
type groupClient struct {
	c       *kafka.Consumer
	commits sync.WaitGroup // commits still running
	// released is closed once the consumer is released.
	released chan struct{}
}

var _ fetch.Consumer = (*groupClient)(nil)

func newGroupClient(conf clientConf, groupID, instanceID string, transactional bool) (*groupClient, error) {
	defaults := kafka.ConfigMap{
		"group.id":          groupID,
		"auto.offset.reset": "earliest",
		// librdkafka's default, said aloud: records of aborted transactions
		// are never handled.
		"isolation.level": "read_committed",
		// Exactly-once: the offsets are committed in the transactions.
		"enable.auto.commit":       !transactional,
		"enable.auto.offset.store": false,
		"auto.commit.interval.ms":  1000,
		"fetch.wait.max.ms":        100,
		"session.timeout.ms":       defaultSessionTimeoutMs,
		"heartbeat.interval.ms":    defaultHeartbeatIntervalMs,
	}
	if instanceID != "" {
		// Static membership: a restarted instance gets its partitions back
		// at once, without a rebalance.
		defaults["group.instance.id"] = instanceID
	}
	c, err := kafka.NewConsumer(conf.with(defaults))
	if err != nil {
		return nil, errorf("kafka-broker: create consumer: %w", err)
	}
	return &groupClient{c: c, released: make(chan struct{})}, nil
}

func (g *groupClient) Subscribe(topic string, rebalance func(kafka.Event) error) error {
	return g.c.SubscribeTopics([]string{topic}, func(_ *kafka.Consumer, ev kafka.Event) error { return rebalance(ev) })
}

func (g *groupClient) Poll(timeoutMs int) kafka.Event { return g.c.Poll(timeoutMs) }

func (g *groupClient) Pause(tps []kafka.TopicPartition) error  { return g.c.Pause(tps) }
func (g *groupClient) Resume(tps []kafka.TopicPartition) error { return g.c.Resume(tps) }
func (g *groupClient) Seek(tp kafka.TopicPartition) error      { return g.c.Seek(tp, 0) }

func (g *groupClient) StoreOffsets(tps []kafka.TopicPartition) error {
	_, err := g.c.StoreOffsets(tps)
	return err
}

// Commit commits the stored offsets, waiting at most until ctx ends.
func (g *groupClient) Commit(ctx context.Context) error {
	g.commits.Add(1)
	return bounded(ctx, "commit", func() error {
		defer g.commits.Done()
		_, err := g.c.Commit()
		return err
	})
}

// Close leaves the group (committing the stored offsets) and releases the
// consumer, waiting at most until ctx ends; Released is closed when it is
// done.
func (g *groupClient) Close(ctx context.Context) error {
	return bounded(ctx, "close", func() error {
		defer close(g.released)
		g.commits.Wait() // a commit still running must end before the client goes
		return g.c.Close()
	})
}

// Released is closed once the consumer is released: Close, and any commit
// it stopped waiting for, finished.
func (g *groupClient) Released() <-chan struct{} { return g.released }

// bounded runs call on a goroutine of its own and waits for it until ctx
// ends; call goes on (librdkafka bounds it by the session timeout when the
// brokers are gone), owned by whoever waits for what it closes.
func bounded(ctx context.Context, what string, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: %w (it goes on in the background until the brokers answer or the session times out)", what, ctx.Err())
	}
}

func (g *groupClient) Watermark(topic string, partition int32) (int64, bool) {
	_, high, err := g.c.GetWatermarkOffsets(topic, partition)
	return high, err == nil && high >= 0
}

func (g *groupClient) Position(topic string, partition int32) (int64, bool) {
	tps, err := g.c.Position([]kafka.TopicPartition{{Topic: &topic, Partition: partition}})
	if err != nil || len(tps) != 1 || tps[0].Offset < 0 {
		return 0, false
	}
	return int64(tps[0].Offset), true
}
