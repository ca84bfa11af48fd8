package core_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// eosResponder returns the router of an exactly-once responder: "rpc.echo"
// produces an event keyed by the request's correlation ID to events, then
// replies; "rpc.note" produces a small "noting" event and awaits its ack,
// then produces its data as an event (too large for events
// when it is big: the topic's max.message.bytes bounds a batch, so the test
// topic takes 256 KiB, and the big event is larger). calls counts handler runs by correlation ID.
func eosResponder(events string, calls *sync.Map) *core.EventRouter {
	count := func(id string) {
		n, _ := calls.LoadOrStore(id, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
	}
	rpc := core.NewEventRouter("rpc")
	rpc.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
		count(ev.CorrelationID)
		m, _ := core.FromContext(ctx)
		note := &core.EventObject{CorrelationID: ev.CorrelationID, Event: "noted", Data: ev.Data}
		if err := m.Produce(ctx, events, note); err != nil {
			return err
		}
		return m.Reply(ctx, ev, ev.Data)
	})
	rpc.BindEvent("note", func(ctx context.Context, ev *core.EventObject) error {
		count(ev.CorrelationID)
		m, _ := core.FromContext(ctx)
		// First an event the brokers take (written in the transaction
		// before the note can fail it), then the note.
		noting := &core.EventObject{CorrelationID: ev.CorrelationID, Event: "noting"}
		if err := m.Produce(ctx, events, noting); err != nil {
			return err
		}
		if err := core.AwaitAcks(ctx); err != nil {
			return err
		}
		return m.Produce(ctx, events, &core.EventObject{CorrelationID: ev.CorrelationID, Event: "noted", Data: ev.Data})
	})
	r := core.NewEventRouter("root")
	r.IncludeBinder(rpc)
	return r
}

func transactional(t *testing.T, prefix string) core.Config {
	cfg := kafkatest.Config(t, prefix)
	cfg.Transactional = true
	cfg.TransactionInterval = 50 * time.Millisecond
	return cfg
}

// requestMany sends n requests to topic, inflight at a time, each with a
// 30 s deadline, and returns their correlation IDs; every one must be
// answered with its own data (t.Error otherwise: it may run on a goroutine
// of its own, so the caller stops the test).
func requestMany(t *testing.T, m *core.Manager, topic string, n, inflight int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	for i := range n {
		ev, _ := core.NewEventObject("rpc.echo", map[string]int{"n": i})
		ids[i] = ev.CorrelationID
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := m.Request(ctx, topic, ev)
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			var out struct{ N int }
			if err := rep.Decode(&out); err != nil || out.N != i {
				errs <- fmt.Errorf("request %d: reply %s (%w)", i, rep.Data, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return ids
}

// In exactly-once mode a responder's replies and the events its handler
// produces are written in transactions with the input offsets. A send the
// broker refuses for good (an event too large for its topic) aborts the
// transaction it was in: every record of it is handled again, the refused
// one is dead-lettered (send_failed) instead, and consumers that read
// committed records see every reply and every event once. A consumer that
// reads uncommitted records sees the aborted ones too.
func TestExactlyOnceRepliesAndEvents(t *testing.T) {
	t.Parallel()
	cfg := transactional(t, "eos")
	events := kafkatest.Name(t, "events")
	kafkatest.CreateTopicWithConfig(t, events, 3, map[string]string{"max.message.bytes": "262144"})
	var calls sync.Map
	svc := startRouted(t, cfg, eosResponder(events, &calls))
	api := startManager(t, kafkatest.Config(t, "api"))

	var ids []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ids = requestMany(t, api, cfg.Location, 600, 32) }()
	// Mid-run, an event too large for its topic: its transaction aborts.
	waitFor(t, func() bool { return svc.Stats().Handled >= 200 })
	big, _ := core.NewEventObject("rpc.note", map[string]string{"pad": strings.Repeat("x", 300_000)})
	if err := api.Produce(context.Background(), cfg.Location, big); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	dl := readKeyed(t, svc.Config().DeadLetterTopic, big.CorrelationID)
	if kind := kafkatest.Header(dl, core.HeaderDLTErrorKind); kind != core.DeadLetterSendFailed {
		t.Fatalf("dead letter kind %q, want %q", kind, core.DeadLetterSendFailed)
	}
	rehandled := 0
	for _, id := range ids {
		if n, ok := calls.Load(id); ok && n.(*atomic.Int32).Load() > 1 {
			rehandled++
		}
	}
	want := func(c map[string]int) bool { _, missing := duplicates(c, ids); return missing == 0 }
	replies := countKeys(t, api.Config().ReplyTopic, "read_committed", 60*time.Second, want)
	evs := countKeys(t, events, "read_committed", 60*time.Second, want)
	rdups, _ := duplicates(replies, ids)
	edups, _ := duplicates(evs, ids)
	uncommitted := countKeys(t, events, "read_uncommitted", 60*time.Second, want)
	udups, _ := duplicates(uncommitted, ids)
	t.Logf("%d requests; %d handled more than once (the aborted transaction); read_committed: %d duplicate replies, %d duplicate events; read_uncommitted: %d duplicate events",
		len(ids), rehandled, rdups, edups, udups)
	if rdups != 0 || edups != 0 {
		t.Fatalf("read_committed consumers saw %d duplicate replies and %d duplicate events", rdups, edups)
	}
	if rehandled == 0 {
		t.Fatal("no record was handled twice: the abort did not happen")
	}
	// The note's first event was written, then aborted with the refused one.
	if uncommitted[big.CorrelationID] == 0 {
		t.Fatal("the note's first event is not in the log: nothing was aborted there")
	}
	if evs[big.CorrelationID] != 0 {
		t.Fatal("an event of the note's aborted transaction is visible to read_committed consumers")
	}
}

// A rebalance commits the open transaction before the partitions go:
// requests keep being answered while instances join and leave, and every
// reply and event is seen once by read_committed consumers.
func TestExactlyOnceAcrossRebalance(t *testing.T) {
	t.Parallel()
	cfg := transactional(t, "eos")
	events := kafkatest.Topic(t, "events", 3)
	var calls sync.Map
	router := eosResponder(events, &calls)
	instance := func(name string) *core.Manager {
		c := cfg
		c.TransactionalID = cfg.Location + "." + name
		return startRouted(t, c, router)
	}
	a := instance("a")
	api := startManager(t, kafkatest.Config(t, "api"))
	var ids []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ids = requestMany(t, api, cfg.Location, 1500, 16) }()
	waitFor(t, func() bool { return a.Stats().Handled >= 200 })
	b := instance("b") // joins: a rebalance
	waitFor(t, func() bool { return b.Stats().Handled >= 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil { // leaves: another
		t.Fatal(err)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := func(c map[string]int) bool { _, missing := duplicates(c, ids); return missing == 0 }
	replies := countKeys(t, api.Config().ReplyTopic, "read_committed", 60*time.Second, want)
	evs := countKeys(t, events, "read_committed", 60*time.Second, want)
	rdups, _ := duplicates(replies, ids)
	edups, _ := duplicates(evs, ids)
	t.Logf("%d requests across two rebalances: %d duplicate replies, %d duplicate events (read_committed)", len(ids), rdups, edups)
	if rdups != 0 || edups != 0 {
		t.Fatalf("read_committed consumers saw %d duplicate replies and %d duplicate events", rdups, edups)
	}
}

// A handler's Request is not part of its transaction: it reaches the
// responder at once, and the reply comes back while the handler waits.
func TestExactlyOnceHandlerRequestsOutsideTheTransaction(t *testing.T) {
	t.Parallel()
	backend := startReplier(t, kafkatest.Config(t, "backend"))
	cfg := transactional(t, "eos")
	cfg.TransactionInterval = time.Second
	r := core.NewEventRouter("root")
	r.BindEvent("ask", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		q, _ := core.NewEventObject("ask", map[string]string{"q": "?"})
		rep, err := m.Request(ctx, backend.m.Config().Location, q)
		if err != nil {
			return err
		}
		return m.Reply(ctx, ev, rep.Data)
	})
	startRouted(t, cfg, r)
	api := startManager(t, kafkatest.Config(t, "api"))
	ev, _ := core.NewEventObject("ask", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := api.Request(ctx, cfg.Location, ev); err != nil {
		t.Fatalf("request through a transactional handler that requests: %v", err)
	}
	t.Logf("answered in %v (interval %v)", time.Since(start).Round(time.Millisecond), cfg.TransactionInterval)
}

func TestTransactionalConfig(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	m := newManager(t, core.Config{BootstrapServers: kafkatest.ClosedAddr(t), Location: "orders", Transactional: true})
	cfg := m.Config()
	if cfg.TransactionalID != "orders."+host || cfg.TransactionInterval != core.DefaultTransactionInterval ||
		cfg.TransactionTimeout != core.DefaultTransactionTimeout {
		t.Fatalf("defaults: ID %q, interval %v, timeout %v", cfg.TransactionalID, cfg.TransactionInterval, cfg.TransactionTimeout)
	}
	withInstance := core.Config{BootstrapServers: "x:1", Location: "orders", GroupID: "g", InstanceID: "pod-0", Transactional: true}
	m2 := newManager(t, withInstance)
	if id := m2.Config().TransactionalID; id != "g.pod-0" {
		t.Fatalf("TransactionalID %q, want g.pod-0", id)
	}
	tests := []struct {
		name string
		cfg  core.Config
	}{
		{"request only", core.Config{RequestOnly: true}},
		{"read_uncommitted", core.Config{Kafka: map[string]any{"isolation.level": "read_uncommitted"}}},
		{"auto commit", core.Config{Kafka: map[string]any{"enable.auto.commit": true}}},
		{"transactional.id", core.Config{Kafka: map[string]any{"transactional.id": "x"}}},
		{"negative interval", core.Config{TransactionInterval: -time.Second}},
	}
	for _, tt := range tests {
		c := tt.cfg
		c.BootstrapServers, c.Location, c.Transactional = "x:1", "orders", true
		var ce *core.ConfigError
		if err := c.Validate(); !errors.As(err, &ce) {
			t.Errorf("%s: Validate() = %v, want a ConfigError", tt.name, err)
		}
	}
}

// A handler that outlives DrainTimeout at a revocation is abandoned: its ctx
// ends with cause ErrHandlerAbandoned, what it sends from then on fails
// (in exactly-once mode it would go into a later transaction), and its
// error dead-letters nothing; the record is handled again by the
// partition's next owner, and read_committed consumers see its event once.
func TestAbandonedHandlerSendsNothing(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"at-least-once", "transactional"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cfg := kafkatest.Config(t, "abandon")
			if mode == "transactional" {
				cfg = transactional(t, "abandon")
			}
			testAbandonedHandler(t, cfg)
		})
	}
}

func testAbandonedHandler(t *testing.T, cfg core.Config) {
	cfg.DrainTimeout = 300 * time.Millisecond
	events := kafkatest.Topic(t, "events", 1)
	started := make(chan struct{})
	type outcome struct{ cause, produce error }
	first := make(chan outcome, 1)
	var runs atomic.Int32
	r := core.NewEventRouter("rpc")
	r.BindEvent("slow", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		note := &core.EventObject{CorrelationID: ev.CorrelationID, Event: "noted", Data: ev.Data}
		if runs.Add(1) == 1 {
			close(started)
			select { // held past the revocation's DrainTimeout
			case <-ctx.Done():
			case <-time.After(20 * time.Second): // bounds the test when the ctx never ends
			}
			err := m.Produce(ctx, events, note)
			first <- outcome{context.Cause(ctx), err}
			if err != nil {
				return err
			}
			return m.Reply(ctx, ev, ev.Data)
		}
		if err := m.Produce(ctx, events, note); err != nil {
			return err
		}
		return m.Reply(ctx, ev, ev.Data)
	})
	instance := func(name string) *core.Manager {
		c := cfg
		if c.Transactional {
			c.TransactionalID = cfg.Location + "." + name
		}
		return startRouted(t, c, r)
	}
	a := instance("a")
	api := startManager(t, kafkatest.Config(t, "api"))
	ev, _ := core.NewEventObject("slow", map[string]int{"n": 1})
	replied := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := api.Request(ctx, cfg.Location, ev)
		replied <- err
	}()
	<-started
	b := instance("b") // joins: a's partitions are revoked while the handler runs
	got := <-first
	if !errors.Is(got.cause, core.ErrHandlerAbandoned) {
		t.Errorf("the abandoned handler's ctx ended with %v, want ErrHandlerAbandoned", got.cause)
	}
	if !errors.Is(got.produce, core.ErrHandlerAbandoned) || !errors.Is(got.produce, context.Canceled) {
		t.Errorf("an abandoned handler's Produce returned %v, want ErrHandlerAbandoned and context.Canceled", got.produce)
	}
	if err := <-replied; err != nil {
		t.Fatalf("the request was not answered by the record's next handling: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range []*core.Manager{a, b} {
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := m.Stats().DeadLettered; n != 0 {
			t.Errorf("%d records dead-lettered, want none (the abandoned handler's error is not its record's)", n)
		}
	}
	evs := countKeys(t, events, "read_committed", 10*time.Second, func(c map[string]int) bool { return c[ev.CorrelationID] > 0 })
	if n := evs[ev.CorrelationID]; n != 1 {
		t.Fatalf("read_committed consumers saw the handler's event %d times, want once", n)
	}
	if n := runs.Load(); n < 2 {
		t.Fatalf("the handler ran %d times, want the abandoned run and one more", n)
	}
}
