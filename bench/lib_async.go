package main

import (
	"context"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// asyncProducer is the library's async produce API as issue 17 specifies it
// for *core.Manager: ProduceAsync returns once ev is enqueued (blocking while
// the producer's queue is full, until ctx ends) and done runs once with the
// ack's outcome; Flush waits until every async send so far is acknowledged.
type asyncProducer interface {
	ProduceAsync(ctx context.Context, topic string, ev *core.EventObject, done func(error)) error
	Flush(ctx context.Context) error
}

// libAsyncProducer is m's async produce API, and a note for the report when
// it is the stand-in.
//
// TODO(issue 17): once *core.Manager has ProduceAsync and Flush, the type
// assertion holds and the stand-in below goes unused: delete produceShim
// and return m.
func libAsyncProducer(m *core.Manager) (asyncProducer, string) {
	if ap, ok := any(m).(asyncProducer); ok {
		return ap, ""
	}
	return newProduceShim(m, shimInFlight),
		"library: core.Manager has no ProduceAsync yet; measured through the best the public API offers, 256 goroutines calling Produce (bench/lib_async.go)"
}

const shimInFlight = 256

// produceShim offers ProduceAsync and Flush over Manager.Produce: each
// send runs in its own goroutine, at most cap(slots) at a time.
type produceShim struct {
	m     *core.Manager
	slots chan struct{} // a token per send in flight
}

func newProduceShim(m *core.Manager, inFlight int) *produceShim {
	return &produceShim{m: m, slots: make(chan struct{}, inFlight)}
}

func (s *produceShim) ProduceAsync(ctx context.Context, topic string, ev *core.EventObject, done func(error)) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	go func() {
		defer func() { <-s.slots }()
		// No deadline: the Manager's ProduceTimeout bounds the wait.
		done(s.m.Produce(context.Background(), topic, ev))
	}()
	return nil
}

// Flush takes every slot, so every earlier send has finished, and gives
// them back.
func (s *produceShim) Flush(ctx context.Context) error {
	taken := 0
	defer func() {
		for range taken {
			<-s.slots
		}
	}()
	for taken < cap(s.slots) {
		select {
		case s.slots <- struct{}{}:
			taken++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
