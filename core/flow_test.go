package core_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestOrderKeptWithinPartition(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.Workers = 4
	const n = 300
	var mu sync.Mutex
	seen := map[int32][]int{}
	done := make(chan struct{})
	total := 0
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"seq": func(_ context.Context, ev *core.EventObject) error {
			var d struct{ P, I int }
			if err := ev.Decode(&d); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			seen[int32(d.P)] = append(seen[int32(d.P)], d.I)
			total++
			if total == n {
				close(done)
			}
			return nil
		},
	})
	_ = m
	var recs []rawRecord
	for i := 0; i < n; i++ {
		p := int32(i % 3)
		ev, _ := core.NewEventObject("job.seq", map[string]int{"p": int(p), "i": i})
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{partition: p, key: []byte(ev.CorrelationID), value: b})
	}
	rawProduceAll(t, cfg.Location, recs)
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("handled %d of %d", total, n)
	}
	mu.Lock()
	defer mu.Unlock()
	for p, seq := range seen {
		for i := 1; i < len(seq); i++ {
			if seq[i] <= seq[i-1] {
				t.Fatalf("partition %d out of order: %v", p, seq)
			}
		}
	}
}

// TestSlowPartitionDoesNotBlockOthers: a partition whose handler is stuck
// and whose queue overflows is paused; the other partitions go on, and the
// paused one resumes in order once its handler is free.
func TestSlowPartitionDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.PartitionQueue = 4
	gate := make(chan struct{})
	var mu sync.Mutex
	var slow []int
	fast := 0
	fastDone := make(chan struct{})
	slowDone := make(chan struct{})
	const nSlow, nFast = 60, 30
	slowStarted := make(chan struct{}, nSlow)
	routed(t, cfg, map[string]core.HandlerFunc{
		"slow": func(_ context.Context, ev *core.EventObject) error {
			slowStarted <- struct{}{}
			<-gate
			var d struct{ I int }
			_ = ev.Decode(&d)
			mu.Lock()
			defer mu.Unlock()
			slow = append(slow, d.I)
			if len(slow) == nSlow {
				close(slowDone)
			}
			return nil
		},
		"fast": func(context.Context, *core.EventObject) error {
			mu.Lock()
			defer mu.Unlock()
			if fast++; fast == nFast {
				close(fastDone)
			}
			return nil
		},
	})
	// Partition 0 first: its handler sticks and its queue overflows...
	var recs []rawRecord
	for i := 0; i < nSlow; i++ {
		ev, _ := core.NewEventObject("job.slow", map[string]int{"i": i})
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{partition: 0, key: []byte(ev.CorrelationID), value: b})
	}
	rawProduceAll(t, cfg.Location, recs)
	select {
	case <-slowStarted:
	case <-time.After(60 * time.Second):
		t.Fatal("partition 0's handler never ran")
	}
	// ...then partition 1 gets records, which must not wait for partition 0.
	recs = nil
	for i := 0; i < nFast; i++ {
		ev, _ := core.NewEventObject("job.fast", nil)
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{partition: 1, key: []byte(ev.CorrelationID), value: b})
	}
	rawProduceAll(t, cfg.Location, recs)
	select {
	case <-fastDone:
	case <-time.After(30 * time.Second):
		close(gate)
		t.Fatalf("partition 1 handled %d of %d while partition 0 was stuck", fast, nFast)
	}
	close(gate)
	select {
	case <-slowDone:
	case <-time.After(60 * time.Second):
		t.Fatalf("partition 0 handled %d of %d after it was unblocked", len(slow), nSlow)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range slow {
		if v != i {
			t.Fatalf("partition 0 out of order after pause and resume: %v", slow)
		}
	}
}

// TestReplyTakenEarlyThenRewoundIsHandledOnce: a reply the poll loop hands
// to its waiter at once, but that then does not fit its partition's full
// queue, is rewound with the partition; fetched again after the resume it
// must not be handled a second time (it would count as a late reply).
func TestReplyTakenEarlyThenRewoundIsHandledOnce(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.PartitionQueue = 1
	gate := make(chan struct{})
	started := make(chan struct{}, 8)
	last := make(chan struct{})
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"block": func(context.Context, *core.EventObject) error {
			started <- struct{}{}
			<-gate
			return nil
		},
		"last": func(context.Context, *core.EventObject) error {
			close(last)
			return nil
		},
	})
	record := func(event string) rawRecord {
		ev, _ := core.NewEventObject(event, nil)
		b, _ := ev.MarshalJSON()
		return rawRecord{partition: 0, key: []byte(ev.CorrelationID), value: b}
	}
	// The first record occupies the partition's handler...
	rawProduceAll(t, cfg.Location, []rawRecord{record("job.block")})
	receive(t, started, "the handler to run")
	// ...a request waits for its reply...
	req, replies := pendingRequest(t, m)
	// ...the next record fills the queue, and the reply, written as a Python
	// responder writes it to the requester's topic, finds no room.
	rb := pythonReply(t, cfg.Location, req)
	rawProduceAll(t, cfg.Location, []rawRecord{record("job.block"), {partition: 0, key: []byte(req.CorrelationID), value: rb}})
	if err := receive(t, replies, "the reply to reach its waiter while the partition's handler is busy"); err != nil {
		t.Fatalf("Request: %v", err)
	}
	close(gate)
	rawProduceAll(t, cfg.Location, []rawRecord{record("job.last")})
	receive(t, last, "the partition to resume")
	if s := m.Stats(); s.LateReplies != 0 || s.DuplicateReplies != 0 {
		t.Fatalf("the rewound reply was handled again: %d late, %d duplicate replies", s.LateReplies, s.DuplicateReplies)
	}
}

// TestReplyBehindFullQueueOfItsOwnPartition: a handler awaits a reply that
// a Python service writes to the handler's own partition after the
// partition's queue has filled up behind it. The paused partition is read
// ahead for replies, so the reply still reaches the handler; the records
// behind it are then handled in order, the reply once.
func TestReplyBehindFullQueueOfItsOwnPartition(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	cfg.PartitionQueue = 2
	cfg.MaxAttempts = 1
	const fillers = 6
	asked := make(chan *core.EventObject, 1)
	answered := make(chan error, 1)
	var mu sync.Mutex
	var order []int
	fillersDone := make(chan struct{})
	r := core.NewEventRouter(cfg.Location)
	r.BindEvent("start", func(ctx context.Context, _ *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		q, _ := core.NewEventObject("ask.question", nil)
		asked <- q
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := m.Request(rctx, kafkatest.Topic(t, "nobody", 1), q)
		answered <- err
		return nil
	})
	r.BindEvent("filler", func(_ context.Context, ev *core.EventObject) error {
		var d struct{ I int }
		_ = ev.Decode(&d)
		mu.Lock()
		defer mu.Unlock()
		if order = append(order, d.I); len(order) == fillers {
			close(fillersDone)
		}
		return nil
	})
	paused := make(chan struct{}, 1)
	m := startRouted(t, cfg, r, core.WithLogger(slog.New(signalHandler{"kafka-broker: partition paused; its queue is full", paused})))
	record := func(event string, data any) rawRecord {
		ev, _ := core.NewEventObject(event, data)
		b, _ := ev.MarshalJSON()
		return rawRecord{partition: 0, key: []byte(ev.CorrelationID), value: b}
	}
	rawProduceAll(t, cfg.Location, []rawRecord{record("start", nil)})
	q := receive(t, asked, "the handler to run")
	waitFor(t, func() bool { return m.Stats().Pending == 1 })
	var recs []rawRecord
	for i := 0; i < fillers; i++ {
		recs = append(recs, record("filler", map[string]int{"i": i}))
	}
	rawProduceAll(t, cfg.Location, recs)
	receive(t, paused, "the partition's queue to fill up")
	rawProduceAll(t, cfg.Location, []rawRecord{{partition: 0, key: []byte(q.CorrelationID), value: pythonReply(t, cfg.Location, q)}})
	if err := receive(t, answered, "the handler's Request to return"); err != nil {
		t.Fatalf("the reply behind the full queue did not reach the handler: %v", err)
	}
	select {
	case <-fillersDone:
	case <-time.After(60 * time.Second):
		t.Fatalf("handled %d of %d records behind the handler", len(order), fillers)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range order {
		if v != i {
			t.Fatalf("records behind the handler out of order: %v", order)
		}
	}
	if s := m.Stats(); s.LateReplies != 0 || s.DuplicateReplies != 0 {
		t.Fatalf("the reply was handled again: %d late, %d duplicate", s.LateReplies, s.DuplicateReplies)
	}
}

// TestPausesWithRepliesOnOwnPartitions: two partitions with tiny queues,
// slow handlers (paused partitions) and handlers that await replies which a
// Python-style responder writes to the asking handler's own partition
// (partitions read ahead). Every record is handled once and in order per
// partition, every request is answered once.
func TestPausesWithRepliesOnOwnPartitions(t *testing.T) {
	t.Parallel()
	const parts, perPart, askEvery = 2, 400, 40
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = parts
	cfg.PartitionQueue = 2
	cfg.MaxAttempts = 1
	respCfg := kafkatest.Config(t, "py")

	var mu sync.Mutex
	seen := make([][]int, parts)
	var askErrs []error
	done := make(chan struct{})
	total := 0
	note := func(p, i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen[p] = append(seen[p], i)
		if err != nil {
			askErrs = append(askErrs, err)
		}
		if total++; total == parts*perPart {
			close(done)
		}
	}
	type pos struct{ P, I int }
	r := core.NewEventRouter(cfg.Location)
	r.BindEvent("seq", func(_ context.Context, ev *core.EventObject) error {
		var d pos
		_ = ev.Decode(&d)
		if d.I%15 == 7 {
			time.Sleep(20 * time.Millisecond) // a slow record: its queue fills up
		}
		note(d.P, d.I, nil)
		return nil
	})
	r.BindEvent("ask", func(ctx context.Context, ev *core.EventObject) error {
		var d pos
		_ = ev.Decode(&d)
		m, _ := core.FromContext(ctx)
		q, _ := core.NewEventObject("question", d)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := m.Request(rctx, respCfg.Location, q)
		note(d.P, d.I, err)
		return nil
	})
	m := startRouted(t, cfg, r)
	// The responder answers as a Python service does: to the asker's
	// Location, here on the partition of the handler that asked.
	resp := core.NewEventRouter(respCfg.Location)
	resp.BindEvent("question", func(_ context.Context, req *core.EventObject) error {
		var d pos
		_ = req.Decode(&d)
		rawProduceAll(t, cfg.Location, []rawRecord{{partition: int32(d.P), key: []byte(req.CorrelationID), value: pythonReply(t, cfg.Location, req)}})
		return nil
	})
	startRouted(t, respCfg, resp)

	var recs []rawRecord
	for i := 0; i < perPart; i++ {
		for p := 0; p < parts; p++ {
			event := "seq"
			if i%askEvery == askEvery-1 {
				event = "ask"
			}
			ev, _ := core.NewEventObject(event, pos{p, i})
			b, _ := ev.MarshalJSON()
			recs = append(recs, rawRecord{partition: int32(p), key: []byte(ev.CorrelationID), value: b})
		}
	}
	rawProduceAll(t, cfg.Location, recs)
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("handled %d of %d records", total, parts*perPart)
	}
	mu.Lock()
	defer mu.Unlock()
	for p, is := range seen {
		for i, v := range is {
			if v != i {
				t.Fatalf("partition %d: record %d handled as the %dth (lost, repeated or out of order)", p, v, i)
			}
		}
	}
	if len(askErrs) > 0 {
		t.Fatalf("%d requests failed, first: %v", len(askErrs), askErrs[0])
	}
	if s := m.Stats(); s.LateReplies != 0 || s.DuplicateReplies != 0 || s.Requests != parts*perPart/askEvery {
		t.Fatalf("requests %d, late replies %d, duplicate replies %d", s.Requests, s.LateReplies, s.DuplicateReplies)
	}
}

// Lag counts what is not handled yet, also on a partition paused behind a
// slow handler (it used to report the whole high watermark there).
func TestLagWhilePaused(t *testing.T) {
	t.Parallel()
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
