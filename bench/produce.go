package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// The produce scenarios: c) produce with ack from -producers goroutines,
// back to back (this file), and g) async produce (produce_async.go). Each
// side writes an event with -event-size bytes of data to its own topic.

const producedEvent = "order.created"

// producers are each side's producing clients of the produce scenarios.
type producers struct {
	lib    *core.Manager
	raw    *kafka.Producer
	franz  *kgo.Client
	topics map[string]string // side -> topic
	close  func()
}

// newProducers creates the clients and topics; rawEvents handles the raw
// producer's events (the delivery reports of produces without their own
// channel) until the producer is closed.
func newProducers(ctx context.Context, e *env, name string, rawEvents func(*kafka.Producer)) (*producers, error) {
	ps := &producers{topics: map[string]string{}}
	var topics []string
	for _, side := range allSides {
		ps.topics[side] = e.name(side, name)
		topics = append(topics, ps.topics[side])
	}
	if err := e.createTopics(ctx, topics...); err != nil {
		return nil, err
	}
	var drained sync.WaitGroup
	ps.close = func() {
		closeManager(ps.lib)
		if ps.raw != nil {
			ps.raw.Flush(5000)
			ps.raw.Close()
			drained.Wait()
		}
		if ps.franz != nil {
			ps.franz.Close()
		}
		e.deleteTopics(topics...)
	}
	var err error
	if ps.lib, err = core.NewManager(e.libConfig(e.name("lib", name)), core.WithLogger(e.log)); err != nil {
		ps.close()
		return nil, err
	}
	if ps.raw, err = kafka.NewProducer(producerConfig(e.bootstrap, e.kafka)); err != nil {
		ps.close()
		return nil, err
	}
	drained.Add(1)
	go func() { defer drained.Done(); rawEvents(ps.raw) }()
	if ps.franz, err = kgo.NewClient(franzOpts(e)...); err != nil {
		ps.close()
		return nil, err
	}
	return ps, nil
}

// runProduce is scenario c): each side's goroutines produce an event and
// wait for the broker's ack, back to back. Library: NewEventObject and
// Manager.Produce. Raw: Produce with a delivery channel on one shared
// producer. franz-go: ProduceSync on one shared client.
func runProduce(ctx context.Context, e *env, o *options) ([]*metric, error) {
	ps, err := newProducers(ctx, e, "produce", func(p *kafka.Producer) { drainEvents(e, p) })
	if err != nil {
		return nil, err
	}
	defer ps.close()
	payload := payloadOfSize(o.eventSize)
	rawLocation, franzLocation := e.name("raw-producer"), e.name("franz-producer")
	fns := map[string]func(context.Context) error{
		sideLib: func(ctx context.Context) error {
			ev, err := core.NewEventObject(producedEvent, payload)
			if err != nil {
				return err
			}
			return ps.lib.Produce(ctx, ps.topics[sideLib], ev)
		},
		sideRaw: func(ctx context.Context) error {
			id, value, err := encodeEvent(rawLocation, producedEvent, payload)
			if err != nil {
				return err
			}
			return produceSync(ctx, ps.raw, rawMessage(ps.topics[sideRaw], id, value, ""))
		},
		sideFranz: func(ctx context.Context) error {
			id, value, err := encodeEvent(franzLocation, producedEvent, payload)
			if err != nil {
				return err
			}
			return ps.franz.ProduceSync(ctx, franzRecord(ps.topics[sideFranz], id, value, "")).FirstErr()
		},
	}
	e.progress("produce: warm-up")
	if err := warmUp(ctx, o.warmup, fns); err != nil {
		return nil, err
	}
	m := e.newRunMetrics(fmt.Sprintf("c) produce %dB x%d", o.eventSize, o.producers), "event", "produces", 0, true, noLatency)
	m.rate.want("lib/raw", ">=", 0.9)
	err = e.eachRound(o.rounds, "produce", m, func(side string) (load, cpuUse, error) {
		l, u := e.timedDrive(ctx, o.producers, o.duration, fns[side])
		return l, u, nil
	})
	return m.metrics(), err
}
