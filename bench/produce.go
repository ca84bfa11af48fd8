package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario c): o.producers goroutines each produce an event with o.eventSize
// bytes of data and wait for the broker's ack, back to back. Library:
// Manager.Produce. Raw: Produce with a delivery channel on one shared
// producer with the library's settings.
func runProduce(ctx context.Context, e *env, o *options) ([]*metric, error) {
	libTopic, rawTopic := e.name("lib-produce"), e.name("raw-produce")
	if err := e.createTopics(ctx, libTopic, rawTopic); err != nil {
		return nil, err
	}
	defer e.deleteTopics(libTopic, rawTopic)

	m, err := core.NewManager(e.libConfig(e.name("lib-producer")), core.WithLogger(e.log))
	if err != nil {
		return nil, err
	}
	defer closeManager(m)
	p, err := kafka.NewProducer(producerConfig(e.bootstrap, e.kafka))
	if err != nil {
		return nil, err
	}
	var drained sync.WaitGroup
	drained.Add(1)
	go func() { defer drained.Done(); drainEvents(e, p) }()
	defer func() { p.Flush(5000); p.Close(); drained.Wait() }()

	payload := payloadOfSize(o.eventSize)
	rawLocation := e.name("raw-producer")
	lib := func(ctx context.Context) error {
		ev, err := core.NewEventObject("order.created", payload)
		if err != nil {
			return err
		}
		return m.Produce(ctx, libTopic, ev)
	}
	raw := func(ctx context.Context) error {
		id := uuid.NewString()
		ev := rawEvent{CorrelationID: id, Status: core.StatusPending, Event: "order.created", Data: payload}
		ev.stamp(rawLocation, time.Now())
		value, err := json.Marshal(&ev)
		if err != nil {
			return err
		}
		return produceSync(ctx, p, &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &rawTopic, Partition: kafka.PartitionAny},
			Key:            []byte(id),
			Value:          value,
			Headers:        []kafka.Header{{Key: core.HeaderCorrelationID, Value: []byte(id)}},
		})
	}

	e.progress("produce: warm-up")
	for _, fn := range []func(context.Context) error{lib, raw} {
		if l := drive(ctx, o.producers, o.warmup, fn); l.errors > 0 {
			return nil, fmt.Errorf("produce warm-up: %d errors, first: %w", l.errors, l.firstErr)
		}
	}
	eps := &metric{Scenario: fmt.Sprintf("c) produce %dB x%d", o.eventSize, o.producers), Name: "events/s", Unit: "1/s", Target: "ratio>=", Bound: 0.9}
	var errs [2]int
	for i := range o.rounds {
		e.progress("produce: round %d/%d", i+1, o.rounds)
		l := drive(ctx, o.producers, o.duration, lib)
		r := drive(ctx, o.producers, o.duration, raw)
		eps.add(l.perSecond(), r.perSecond())
		errs[0] += l.errors
		errs[1] += r.errors
	}
	if errs != [2]int{} {
		eps.Note = fmt.Sprintf("failed produces: library %d, raw %d", errs[0], errs[1])
	}
	return []*metric{eps}, nil
}
