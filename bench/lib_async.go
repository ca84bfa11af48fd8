package main

import (
	"context"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// asyncProducer is an async produce API: ProduceAsync returns once ev is
// enqueued (blocking while the producer's queue is full, until ctx ends) and
// done runs once with the ack's outcome; Flush waits until every async send
// so far is acknowledged. *core.Manager is one.
type asyncProducer interface {
	ProduceAsync(ctx context.Context, topic string, ev *core.EventObject, done func(error)) error
	Flush(ctx context.Context) error
}

var _ asyncProducer = (*core.Manager)(nil)

// libAsyncProducer is m's async produce API; the note is for the report.
func libAsyncProducer(m *core.Manager) (asyncProducer, string) { return m, "" }
