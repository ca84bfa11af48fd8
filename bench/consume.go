package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario d): consume -> route -> commit. n events are written to a topic
// once; each round a fresh consumer group reads them all from the start.
// Library: a Manager whose Location is the topic, with a router binding
// "order.created" (nested routers "order" -> "created") to a handler that
// counts. Raw: a group consumer that decodes, looks the handler up by event
// name, calls it and stores the offset, in its poll loop (the natural
// hand-written form when handlers do not block; order per partition and
// at-least-once like the library). The rate is taken from the first to the
// last handled event, so group joins are not measured. -raw-consume workers
// gives the raw side the library's structure instead: a goroutine per
// partition fed by the poll loop.
func runConsume(ctx context.Context, e *env, o *options) ([]*metric, error) {
	topic := e.name("consume")
	if err := e.createTopics(ctx, topic); err != nil {
		return nil, err
	}
	defer e.deleteTopics(topic, topic+".replies", topic+".dlq")
	e.progress("consume: writing %d events", o.consumeEvents)
	if err := fill(ctx, e, topic, o.consumeEvents, smallPayload); err != nil {
		return nil, err
	}
	eps := &metric{Scenario: "d) consume->route->commit", Name: "events/s", Unit: "1/s", Target: "ratio>=", Bound: 0.9}
	if o.rawConsume != "inline" {
		eps.Name += " (raw: partition goroutines)"
	}
	var cuts [2]int
	for i := range o.rounds {
		e.progress("consume: round %d/%d", i+1, o.rounds)
		lib, libCut, err := consumeLib(ctx, e, topic, e.name("lib-group", strconv.Itoa(i)), o.consumeEvents, o.consumeLimit)
		if err != nil {
			return nil, err
		}
		raw, rawCut, err := consumeRaw(ctx, e, topic, e.name("raw-group", strconv.Itoa(i)), o.consumeEvents, o.consumeLimit, o.rawConsume == "inline")
		if err != nil {
			return nil, err
		}
		eps.add(lib, raw)
		if libCut {
			cuts[0]++
		}
		if rawCut {
			cuts[1]++
		}
	}
	if cuts != [2]int{} {
		eps.Note = fmt.Sprintf("runs stopped at -consume-limit %s before all %d events were handled: library %d, raw %d",
			o.consumeLimit, o.consumeEvents, cuts[0], cuts[1])
	}
	return []*metric{eps}, nil
}

// fill writes n events in the library's wire format to topic, fast.
func fill(ctx context.Context, e *env, topic string, n int, data json.RawMessage) error {
	cfg := producerConfig(e.bootstrap, e.kafka)
	_ = cfg.SetKey("linger.ms", 5)
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	var delivered, failed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range p.Events() {
			if m, ok := ev.(*kafka.Message); ok {
				if m.TopicPartition.Error != nil {
					failed.Add(1)
				}
				if delivered.Add(1) == int64(n) {
					return
				}
			}
		}
	}()
	now := time.Now()
	for i := 0; i < n; {
		id := uuid.NewString()
		ev := rawEvent{CorrelationID: id, Status: core.StatusPending, Event: "order.created", Data: data}
		ev.stamp("bench-source", now)
		value, _ := json.Marshal(&ev)
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            []byte(id), Value: value,
			Headers: []kafka.Header{{Key: core.HeaderCorrelationID, Value: []byte(id)}},
		}, nil)
		if err != nil {
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		i++
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("fill %s: only %d of %d delivered", topic, delivered.Load(), n)
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("fill %s: %d of %d failed", topic, f, n)
	}
	return nil
}

// counter records when the first and the n-th event were handled.
type counter struct {
	want        int64
	handled     atomic.Int64
	first, last atomic.Int64 // unix nanoseconds
	done        chan struct{}
}

func newCounter(want int) *counter {
	return &counter{want: int64(want), done: make(chan struct{})}
}

func (c *counter) hit() {
	n := c.handled.Add(1)
	if n == 1 {
		c.first.Store(time.Now().UnixNano())
	}
	if n == c.want {
		c.last.Store(time.Now().UnixNano())
		close(c.done)
	}
}

// wait returns the handling rate once all events were handled, or after
// limit with the events handled so far (a very slow side must not stall the
// whole bench); cut tells which.
func (c *counter) wait(ctx context.Context, limit time.Duration) (rate float64, cut bool, err error) {
	select {
	case <-c.done:
		d := time.Duration(c.last.Load() - c.first.Load())
		return float64(c.want-1) / d.Seconds(), false, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	case <-time.After(limit):
	}
	n, first := c.handled.Load(), c.first.Load()
	if n < 2 {
		return 0, true, fmt.Errorf("%d of %d events handled after %s", n, c.want, limit)
	}
	return float64(n-1) / time.Since(time.Unix(0, first)).Seconds(), true, nil
}

func consumeLib(ctx context.Context, e *env, topic, group string, n int, limit time.Duration) (float64, bool, error) {
	c := newCounter(n)
	root, order := core.NewEventRouter("root"), core.NewEventRouter("order")
	order.BindEvent("created", func(context.Context, *core.EventObject) error { c.hit(); return nil })
	root.IncludeBinder(order)
	cfg := e.libConfig(topic)
	cfg.GroupID = group
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := e.startManager(sctx, cfg, root)
	if err != nil {
		return 0, false, fmt.Errorf("consume (library): %w", err)
	}
	defer closeManager(m)
	rate, cut, err := c.wait(ctx, limit)
	if err != nil {
		return 0, false, fmt.Errorf("consume (library): %w", err)
	}
	return rate, cut, nil
}

func consumeRaw(ctx context.Context, e *env, topic, group string, n int, limit time.Duration, inline bool) (float64, bool, error) {
	c := newCounter(n)
	s, err := newRawService(e, topic, group, false, inline)
	if err != nil {
		return 0, false, err
	}
	defer s.close()
	s.handlers["order.created"] = func(*kafka.Message, *rawEvent) error { c.hit(); return nil }
	if err := s.start(); err != nil {
		return 0, false, err
	}
	rate, cut, err := c.wait(ctx, limit)
	if err != nil {
		return 0, false, fmt.Errorf("consume (raw): %w", err)
	}
	return rate, cut, nil
}
