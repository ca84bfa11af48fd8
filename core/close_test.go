package core_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

func TestCloseFailsWaitingRequests(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	m := newManager(t, cfg)
	if err := m.InitConsumer(kafkatest.Context(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	nobody := kafkatest.Topic(t, "nobody", 1)
	const n = 10
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			ev, _ := core.NewEventObject("x.y", nil)
			_, err := m.Request(context.Background(), nobody, ev)
			errs <- err
		}()
	}
	waitFor(t, func() bool { return m.Stats().Pending == n })
	if err := m.Close(kafkatest.Context(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, core.ErrClosed) {
				t.Fatalf("err = %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a request still hangs after Close")
		}
	}
	ev, _ := core.NewEventObject("x.y", nil)
	if err := m.Produce(context.Background(), nobody, ev); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Produce after Close = %v", err)
	}
	if _, err := m.Request(context.Background(), nobody, ev); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Request after Close = %v", err)
	}
	if err := m.InitConsumer(context.Background()); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("InitConsumer after Close = %v", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestCloseDrainsInFlight: Close with 200 handlers in flight lets them all
// finish and commits them; the records behind them stay uncommitted and go to
// the next member of the group, none lost and none handled twice.
func TestCloseDrainsInFlight(t *testing.T) {
	t.Parallel()
	const partitions = 200
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = partitions
	cfg.Workers = partitions
	var mu sync.Mutex
	handled := map[string]int{}
	started := make(chan struct{}, 2*partitions)
	gate := make(chan struct{})
	handler := func(_ context.Context, ev *core.EventObject) error {
		started <- struct{}{}
		<-gate
		mu.Lock()
		handled[ev.CorrelationID]++
		mu.Unlock()
		return nil
	}
	first, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewEventRouter("r")
	r.BindEvent("work", handler)
	first.SetRouter(r)
	if err := first.InitConsumer(kafkatest.Context(t, 120*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Two records per partition: the first of each gets in flight, the
	// second waits behind it.
	var recs []rawRecord
	var ids []string
	for i := 0; i < 2*partitions; i++ {
		ev, _ := core.NewEventObject("work", map[string]int{"i": i})
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{partition: int32(i % partitions), key: []byte(ev.CorrelationID), value: b})
		ids = append(ids, ev.CorrelationID)
	}
	rawProduceAll(t, cfg.Location, recs)
	for i := 0; i < partitions; i++ {
		select {
		case <-started:
		case <-time.After(120 * time.Second):
			t.Fatalf("only %d handlers in flight, want %d", i, partitions)
		}
	}
	closed := make(chan error)
	go func() { closed <- first.Close(kafkatest.Context(t, 120*time.Second)) }()
	waitFor(t, func() bool { return !first.Ready() })
	close(gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	mu.Lock()
	afterFirst := len(handled)
	mu.Unlock()
	if afterFirst != partitions {
		t.Fatalf("the first manager finished %d handlers, want the %d in flight", afterFirst, partitions)
	}

	// A new member of the same group gets everything not committed.
	startRouted(t, cfg, r)
	deadline := time.Now().Add(120 * time.Second)
	for {
		mu.Lock()
		got := len(handled)
		mu.Unlock()
		if got == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d distinct events, want %d", got, len(ids))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if handled[id] > 1 {
			t.Errorf("event %s handled %d times: its offset was not committed at Close", id, handled[id])
		}
	}
}

// Close while a handler waits in Request: the Request fails with ErrClosed,
// and the record is left uncommitted for the next owner, not dead-lettered.
func TestCloseLeavesRequestingHandlerUncommitted(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "c")
	cfg.TopicPartitions = 1
	silent := kafkatest.Config(t, "silent") // nobody answers here
	startManager(t, silent)
	var calls atomic.Int32
	handlerErr := make(chan error, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("work", func(ctx context.Context, _ *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		q, _ := core.NewEventObject("ask", nil)
		_, err := m.Request(ctx, silent.Location, q)
		if calls.Add(1) == 1 {
			handlerErr <- err
		}
		return err
	})
	first, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	first.SetRouter(r)
	if err := first.InitConsumer(kafkatest.Context(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	w := produceTo(t, first, cfg.Location, "work")
	waitFor(t, func() bool { return first.Stats().Pending == 1 })
	if err := first.Close(kafkatest.Context(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-handlerErr; !errors.Is(err, core.ErrClosed) {
		t.Fatalf("handler's Request = %v, want ErrClosed", err)
	}
	if st := first.Stats(); st.DeadLettered != 0 || st.Retries != 0 {
		t.Fatalf("in-flight record dead-lettered or retried during Close: %+v", st)
	}
	// The next member of the group gets it again.
	seen := make(chan string, 1)
	again := core.NewEventRouter("root")
	again.BindEvent("work", func(_ context.Context, ev *core.EventObject) error { seen <- ev.CorrelationID; return nil })
	startRouted(t, cfg, again)
	select {
	case id := <-seen:
		if id != w.CorrelationID {
			t.Fatalf("redelivered %s, want %s", id, w.CorrelationID)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the record interrupted by Close was not redelivered")
	}
}

// TestCloseEndsARebalanceDrain: Close(ctx) while the poll loop waits for the
// handler of a revoked partition (up to DrainTimeout) returns once ctx ends,
// and ends that handler's context with cause ErrHandlerAbandoned.
func TestCloseEndsARebalanceDrain(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	cfg.DrainTimeout = 10 * time.Minute
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	handlerDone := make(chan error, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("block", func(ctx context.Context, _ *core.EventObject) error {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			handlerDone <- context.Cause(ctx)
		case <-release:
			handlerDone <- nil
		}
		return nil
	})
	draining := make(chan struct{}, 1)
	m, err := core.NewManager(cfg, core.WithLogger(slog.New(signalHandler{"kafka-broker: partitions revoked; waiting for their handlers", draining})))
	if err != nil {
		t.Fatal(err)
	}
	m.SetRouter(r)
	if err := m.InitConsumer(kafkatest.Context(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	ev, _ := core.NewEventObject("block", nil)
	if err := m.Produce(kafkatest.Context(t, 30*time.Second), cfg.Location, ev); err != nil {
		t.Fatal(err)
	}
	receive(t, started, "the handler to run")
	// A second member joins: m's partition is revoked, and m's poll loop
	// waits for the blocked handler.
	m2 := newManager(t, cfg)
	joined := make(chan error, 1)
	go func() { joined <- m2.InitConsumer(kafkatest.Context(t, 60*time.Second)) }()
	receive(t, draining, "the partition to be revoked")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- m.Close(ctx) }()
	// The drain gives up on the handler and ends its ctx; whether Close
	// still finds it running depends on how soon it returns.
	if err := receive(t, closed, "Close to return once its ctx ended (not the rebalance's DrainTimeout)"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want context deadline exceeded", err)
	}
	if err := receive(t, handlerDone, "the abandoned handler's context to be canceled"); !errors.Is(err, core.ErrHandlerAbandoned) {
		t.Fatalf("handler's ctx ended with %v, want ErrHandlerAbandoned", err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("second member: %v", err)
	}
}

// TestCloseBoundedWithBrokerDown: with the broker SIGKILLed, or frozen
// (SIGSTOP: connections open, nothing answers), Close(ctx) returns by its
// ctx (it used to block 91 s in commits and the consumer's close), also in
// exactly-once mode (a commit left in doubt), a Request still waiting for
// its produce's ack ends with ErrClosed at once, and a Produce without a
// deadline ends too.
func TestCloseBoundedWithBrokerDown(t *testing.T) {
	b, ok := realkafka.FromEnv()
	if !ok {
		t.Skip("KAFKA_SCRIPT not set: no real broker to kill")
	}
	for _, fault := range []string{"killed", "frozen"} {
		for _, transactional := range []bool{false, true} {
			name := fault
			if transactional {
				name += "/transactional"
			}
			t.Run(name, func(t *testing.T) { closeBoundedWithBroker(t, b, fault, transactional) })
		}
	}
}

func closeBoundedWithBroker(t *testing.T, b *realkafka.Broker, fault string, transactional bool) {
	cfg := kafkatest.Config(t, "svc")
	cfg.Transactional = transactional
	col := newCollector()
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	m.SetRouter(col.router())
	if err := m.InitConsumer(kafkatest.Context(t, 120*time.Second)); err != nil {
		t.Fatal(err)
	}
	target := kafkatest.Topic(t, "target", 1)
	ev := produceTo(t, m, cfg.Location, "x.y")
	col.waitAll(t, []string{ev.CorrelationID}, 60*time.Second) // an offset to commit

	ctx := kafkatest.Context(t, 180*time.Second)
	down, up := b.Kill, b.Start
	if fault == "frozen" {
		down, up = b.Pause, b.Resume
	}
	if err := down(ctx); err != nil {
		t.Fatalf("%s broker: %v", fault, err)
	}
	t.Cleanup(func() {
		// Not kafkatest.Context: a cleanup it registered now would run, and
		// cancel it, as soon as this one returns.
		ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
		defer cancel()
		if err := up(ctx); err != nil {
			t.Errorf("broker back: %v", err)
		}
	})
	reqErr := make(chan error, 1)
	go func() {
		ev, _ := core.NewEventObject("ask.x", nil)
		_, err := m.Request(context.Background(), target, ev)
		reqErr <- err
	}()
	prodErr := make(chan error, 1)
	go func() {
		ev, _ := core.NewEventObject("note.x", nil)
		prodErr <- m.Produce(context.Background(), target, ev)
	}()
	waitFor(t, func() bool { return m.Stats().Pending == 1 })

	const closeWithin = 3 * time.Second
	closeCtx, cancel := context.WithTimeout(context.Background(), closeWithin)
	defer cancel()
	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- m.Close(closeCtx) }()
	select {
	case err = <-closed:
	case <-time.After(closeWithin + 30*time.Second):
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2) // where Close is stuck
		t.Fatalf("Close(ctx of %v) with the broker %s has not returned after %v", closeWithin, fault, time.Since(start))
	}
	took := time.Since(start)
	t.Logf("Close with the broker %s took %v: %v", fault, took.Round(10*time.Millisecond), err)
	if took > closeWithin+5*time.Second {
		t.Fatalf("Close(ctx of %v) with the broker %s returned after %v", closeWithin, fault, took)
	}
	if err := receive(t, reqErr, "the Request to end"); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Request waiting for its ack: %v, want ErrClosed", err)
	}
	if err := receive(t, prodErr, "the Produce to end"); err == nil {
		t.Fatalf("Produce with the broker %s succeeded", fault)
	}
}
