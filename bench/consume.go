package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario d): consume -> route -> commit. n events are written to a topic
// once; each round a fresh consumer group per side reads them all from the
// start. Library: a Manager whose Location is the topic, with a router
// binding "order.created" (nested routers "order" -> "created") to a
// handler that counts. Raw: a group consumer that decodes, looks the handler
// up by event name, calls it and stores the offset, in its poll loop (the
// natural hand-written form when handlers do not block; order per partition
// and at-least-once like the library); -raw-consume workers gives it the
// library's structure instead: a goroutine per partition fed by the poll
// loop. franz-go: its service (franz.go), handling each polled batch in the
// poll loop and marking its offsets for the next auto-commit. The rate, and
// the CPU per event, are taken from the first to the last handled event, so
// group joins are not measured.
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
	const scenario = "d) consume->route->commit"
	eps := newMetric(scenario, "events/s", "1/s").want("lib/raw", ">=", 0.9)
	if o.rawConsume != "inline" {
		eps.Name += " (raw: partition goroutines)"
	}
	cpu := e.newCPUMetrics(scenario, "event", 0)
	consumers := map[string]func(ctx context.Context, group string, c *counter) error{
		sideLib: func(ctx context.Context, group string, c *counter) error {
			return consumeLib(ctx, e, topic, group, c)
		},
		sideRaw: func(ctx context.Context, group string, c *counter) error {
			s, err := newRawService(e, topic, group, false, o.rawConsume == "inline")
			if err != nil {
				return err
			}
			return consumeService(ctx, s, c)
		},
		sideFranz: func(ctx context.Context, group string, c *counter) error {
			s, err := newFranzService(e, topic, group)
			if err != nil {
				return err
			}
			return consumeService(ctx, s, c)
		},
	}
	cuts := map[string]int{}
	for i := range o.rounds {
		for _, side := range allSides {
			e.progress("consume: round %d/%d, %s", i+1, o.rounds, side)
			c := newCounter(o.consumeEvents, o.consumeLimit, e.cpu)
			if err := consumers[side](ctx, e.name(side, "group", strconv.Itoa(i)), c); err != nil {
				return nil, fmt.Errorf("consume (%s): %w", side, err)
			}
			eps.add(side, c.rate)
			cpu.add(side, c.cpu, c.handledN)
			if c.cut {
				cuts[side]++
			}
		}
	}
	if len(cuts) > 0 {
		eps.addNote(fmt.Sprintf("runs stopped at -consume-limit %s before all %d events were handled: library %d, raw %d, franz-go %d",
			o.consumeLimit, o.consumeEvents, cuts[sideLib], cuts[sideRaw], cuts[sideFranz]))
	}
	return append([]*metric{eps}, cpu.metrics()...), nil
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
	for i := 0; i < n; {
		id, value, err := encodeEvent("bench-source", producedEvent, data)
		if err != nil {
			return err
		}
		err = p.Produce(rawMessage(topic, id, value, ""), nil)
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

// counter records when the first and the n-th event were handled, and
// the CPU spent between them.
type counter struct {
	want    int64
	limit   time.Duration
	meter   *cpuMeter
	handled atomic.Int64
	done    chan struct{}

	mu          sync.Mutex // first and last are rare: a mutex keeps them ordered
	first, last time.Time
	start       cpuSample
	used        cpuUse // from the first to the last event

	// The outcome, set by wait.
	rate     float64
	cut      bool // limit reached: measured on what was handled by then
	cpu      cpuUse
	handledN int
}

func newCounter(want int, limit time.Duration, meter *cpuMeter) *counter {
	return &counter{want: int64(want), limit: limit, meter: meter, done: make(chan struct{})}
}

func (c *counter) hit() {
	switch n := c.handled.Add(1); n {
	case 1:
		c.mu.Lock()
		c.first, c.start = time.Now(), c.meter.sample()
		c.mu.Unlock()
	case c.want:
		c.mu.Lock()
		c.last, c.used = time.Now(), c.meter.since(c.start)
		c.mu.Unlock()
		close(c.done)
	}
}

// wait sets the handling rate once all events were handled, or after the
// limit with the events handled so far (a very slow side must not stall
// the whole bench).
func (c *counter) wait(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.limit):
		c.cut = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, last := c.handled.Load(), c.last
	c.cpu = c.used
	if c.cut {
		if n < 2 {
			return fmt.Errorf("%d of %d events handled after %s", n, c.want, c.limit)
		}
		last, c.cpu = time.Now(), c.meter.since(c.start)
	} else {
		n = c.want
	}
	c.handledN = int(n)
	c.rate = float64(n-1) / last.Sub(c.first).Seconds()
	return nil
}

func consumeLib(ctx context.Context, e *env, topic, group string, c *counter) error {
	root, order := core.NewEventRouter("root"), core.NewEventRouter("order")
	order.BindEvent("created", func(context.Context, *core.EventObject) error { c.hit(); return nil })
	root.IncludeBinder(order)
	cfg := e.libConfig(topic)
	cfg.GroupID = group
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := e.startManager(sctx, cfg, root)
	if err != nil {
		return err
	}
	defer closeManager(m)
	return c.wait(ctx)
}

// consumeService counts the events a hand-written service handles, then
// closes it.
func consumeService(ctx context.Context, s service, c *counter) error {
	defer s.close()
	s.on(producedEvent, func(*rawEvent, []byte) error { c.hit(); return nil })
	if err := s.start(); err != nil {
		return err
	}
	return c.wait(ctx)
}
