package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario g): async produce. -async-producers goroutines hand events with
// -event-size bytes of data to the side's producer without waiting for
// acks, back to back for -duration; then the side flushes. The rate is the
// events sent over the time until the last ack, so what was still queued at
// the deadline counts at the speed it drained. Each side's queue bounds
// the events in flight and blocks the senders when full:
//
//   - library: Manager.ProduceAsync with a done callback, then Flush (see
//     lib_async.go for the stand-in while core lacks them);
//   - raw: Produce without a delivery channel, delivery reports counted from
//     the producer's event channel; on ErrQueueFull (librdkafka's
//     queue.buffering.max.messages, 100,000) it waits for a delivery;
//   - franz-go: Produce with a promise (blocking at MaxBufferedRecords,
//     50,000), then Flush.

// asyncSender is one side's async producer.
type asyncSender struct {
	send   func(ctx context.Context) error // hand one event over
	flush  func(ctx context.Context) error // wait for every ack
	failed *atomic.Int64                   // failed acks
}

// rawAsync counts a raw producer's delivery reports.
type rawAsync struct {
	outstanding atomic.Int64
	failed      atomic.Int64
	delivered   chan struct{} // a delivery report arrived (coalesced)
}

func (r *rawAsync) drain(e *env, p *kafka.Producer) {
	for ev := range p.Events() {
		switch ev := ev.(type) {
		case *kafka.Message:
			if ev.TopicPartition.Error != nil {
				r.failed.Add(1)
			}
			r.outstanding.Add(-1)
			select {
			case r.delivered <- struct{}{}:
			default:
			}
		case kafka.Error:
			if ev.IsFatal() {
				e.log.Error("raw producer", "error", ev)
			}
		}
	}
}

// flush waits until every event sent was delivered or failed.
func (r *rawAsync) flush(ctx context.Context) error {
	for r.outstanding.Load() > 0 {
		select {
		case <-r.delivered:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func runProduceAsync(ctx context.Context, e *env, o *options) ([]*metric, error) {
	ra := &rawAsync{delivered: make(chan struct{}, 1)}
	ps, err := newProducers(ctx, e, "async", func(p *kafka.Producer) { ra.drain(e, p) })
	if err != nil {
		return nil, err
	}
	defer ps.close()
	payload := payloadOfSize(o.eventSize)
	rawLocation, franzLocation := e.name("raw-producer"), e.name("franz-producer")

	var libFailed, franzFailed atomic.Int64
	lib, libNote := libAsyncProducer(ps.lib)
	libDone := func(err error) {
		if err != nil {
			libFailed.Add(1)
		}
	}
	franzPromise := func(_ *kgo.Record, err error) {
		if err != nil {
			franzFailed.Add(1)
		}
	}
	senders := map[string]asyncSender{
		sideLib: {
			send: func(ctx context.Context) error {
				ev, err := core.NewEventObject(producedEvent, payload)
				if err != nil {
					return err
				}
				return lib.ProduceAsync(ctx, ps.topics[sideLib], ev, libDone)
			},
			flush:  lib.Flush,
			failed: &libFailed,
		},
		sideRaw: {
			send: func(ctx context.Context) error {
				id, value, err := encodeEvent(rawLocation, producedEvent, payload)
				if err != nil {
					return err
				}
				msg := rawMessage(ps.topics[sideRaw], id, value, "")
				ra.outstanding.Add(1)
				for {
					err := ps.raw.Produce(msg, nil)
					var kerr kafka.Error
					if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrQueueFull {
						if err != nil {
							ra.outstanding.Add(-1)
						}
						return err
					}
					select { // a delivery makes room
					case <-ra.delivered:
					case <-ctx.Done():
						ra.outstanding.Add(-1)
						return ctx.Err()
					}
				}
			},
			flush:  ra.flush,
			failed: &ra.failed,
		},
		sideFranz: {
			send: func(ctx context.Context) error {
				id, value, err := encodeEvent(franzLocation, producedEvent, payload)
				if err != nil {
					return err
				}
				ps.franz.Produce(ctx, franzRecord(ps.topics[sideFranz], id, value, ""), franzPromise)
				return nil
			},
			flush:  ps.franz.Flush,
			failed: &franzFailed,
		},
	}

	e.progress("async produce: warm-up")
	for _, side := range allSides {
		if _, _, err := e.timedAsync(ctx, o.asyncProducers, o.warmup, senders[side]); err != nil {
			return nil, fmt.Errorf("async produce warm-up (%s): %w", side, err)
		}
	}
	m := e.newRunMetrics(fmt.Sprintf("g) async produce %dB x%d", o.eventSize, o.asyncProducers), "event", "acks", 0, true, noLatency)
	m.rate.want("lib/raw", ">=", 0.9)
	if libNote != "" {
		m.rate.addNote(libNote)
	}
	err = e.eachRound(o.rounds, "async produce", m, func(side string) (load, cpuUse, error) {
		s := senders[side]
		before := s.failed.Load()
		l, u, err := e.timedAsync(ctx, o.asyncProducers, o.duration, s)
		l.errors = int(s.failed.Load() - before)
		return l, u, err
	})
	if err != nil {
		return nil, err
	}
	return m.metrics(), nil
}

// timedAsync sends from producers goroutines until d has passed, flushes,
// and returns the events sent with the time until the last ack, and the CPU
// spent.
func (e *env) timedAsync(ctx context.Context, producers int, d time.Duration, s asyncSender) (load, cpuUse, error) {
	before := e.cpu.sample()
	start := time.Now()
	deadline := start.Add(d)
	var sent atomic.Int64
	fns := make([]func() error, producers)
	for i := range fns {
		fns[i] = func() error {
			for time.Now().Before(deadline) {
				if err := s.send(ctx); err != nil {
					return err
				}
				sent.Add(1)
			}
			return nil
		}
	}
	err := parallel(fns...)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if ferr := s.flush(fctx); ferr != nil {
		err = errors.Join(err, fmt.Errorf("flush: %w", ferr))
	}
	l := load{done: int(sent.Load()), elapsed: time.Since(start)}
	return l, e.cpu.since(before), err
}
