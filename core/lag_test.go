package core_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Lag counts what is not handled yet, also on a partition paused behind a
// slow handler (it used to report the whole high watermark there).
func TestLagWhilePaused(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	cfg.PartitionQueue = 2
	gates := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var handled atomic.Int32
	r := core.NewEventRouter("root")
	r.BindEvent("job", func(_ context.Context, ev *core.EventObject) error {
		var d struct{ I int }
		_ = ev.Decode(&d)
		switch d.I {
		case 0:
			<-gates[0]
		case 5:
			<-gates[1]
		}
		handled.Add(1)
		return nil
	})
	paused := make(chan struct{}, 1)
	m := startRouted(t, cfg, r, core.WithLogger(slog.New(signalHandler{"kafka-broker: partition paused; its queue is full", paused})))
	var recs []rawRecord
	for i := range 10 {
		ev, _ := core.NewEventObject("job", map[string]int{"i": i})
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{key: []byte(ev.CorrelationID), value: b})
	}
	rawProduceAll(t, cfg.Location, recs)
	receive(t, paused, "the partition to pause behind the blocked handler")
	lag := func() int64 {
		var n int64
		for _, l := range m.Lag() {
			n += l.Lag
		}
		return n
	}
	waitFor(t, func() bool { return lag() == 10 })
	close(gates[0])
	waitFor(t, func() bool { return handled.Load() == 5 })
	waitFor(t, func() bool { return lag() == 5 }) // records 5..9 not handled: 5 is in flight
	close(gates[1])
	waitFor(t, func() bool { return lag() == 0 })
}
