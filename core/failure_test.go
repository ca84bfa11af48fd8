package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// routed starts a manager whose router binds "job.<name>" handlers.
func routed(t *testing.T, cfg core.Config, handlers map[string]core.HandlerFunc) *core.Manager {
	t.Helper()
	r := core.NewEventRouter(cfg.Location)
	job := core.NewEventRouter("job")
	for name, h := range handlers {
		job.BindEvent(name, h)
	}
	r.IncludeBinder(job)
	return startRouted(t, cfg, r)
}

func produce(t *testing.T, m *core.Manager, topic, event string, data any) *core.EventObject {
	t.Helper()
	ev, err := core.NewEventObject(event, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Produce(kafkatest.Context(t, 30*time.Second), topic, ev); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	return ev
}

func TestMalformedRecordsDeadLettered(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	cfg.MaxRecordBytes = 1024
	handled := make(chan string, 1)
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"ok": func(_ context.Context, ev *core.EventObject) error { handled <- ev.CorrelationID; return nil },
	})
	bad := []struct{ kind, value string }{
		{core.MalformedNotJSON, "this is not json"},
		{core.MalformedNotObject, `[1, 2, 3]`},
		{core.MalformedFieldType, `{"correlation_id": "x", "event": 5}`},
		{core.MalformedTooLarge, `{"event": "job.ok", "data": {"pad": "` + strings.Repeat("x", 2048) + `"}}`},
		{core.MalformedEmptyEvent, `{"correlation_id": "y", "event": ""}`},
	}
	for _, b := range bad {
		rawProduce(t, cfg.Location, []byte(b.kind), []byte(b.value))
	}
	good := produceTo(t, m, cfg.Location, "job.ok")
	select {
	case id := <-handled:
		if id != good.CorrelationID {
			t.Fatalf("handled %s, want %s", id, good.CorrelationID)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("valid record after malformed ones was not handled")
	}
	dlq := kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, len(bad), 60*time.Second)
	kinds := map[string]bool{}
	for _, r := range dlq {
		kinds[kafkatest.Header(r, core.HeaderDLTErrorKind)] = true
		if kafkatest.Header(r, core.HeaderDLTOriginalTopic) != cfg.Location || kafkatest.Header(r, core.HeaderDLTError) == "" {
			t.Errorf("DLQ headers: %v", r.Headers)
		}
		if string(r.Key) != kafkatest.Header(r, core.HeaderDLTErrorKind) {
			t.Errorf("DLQ record key %q has kind %q", r.Key, kafkatest.Header(r, core.HeaderDLTErrorKind))
		}
	}
	st := m.Stats()
	for _, b := range bad {
		if !kinds[b.kind] {
			t.Errorf("no DLQ record of kind %s", b.kind)
		}
		if st.Malformed[b.kind] != 1 {
			t.Errorf("Malformed[%s] = %d, want 1", b.kind, st.Malformed[b.kind])
		}
	}
}

// produceTo produces an event with a unique payload.
func produceTo(t *testing.T, m *core.Manager, topic, event string) *core.EventObject {
	return produce(t, m, topic, event, map[string]string{"at": time.Now().String()})
}

func TestHandlerRetriedThenSucceeds(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	var calls atomic.Int32
	done := make(chan struct{})
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"flaky": func(context.Context, *core.EventObject) error {
			if calls.Add(1) <= 2 {
				return errors.New("transient")
			}
			close(done)
			return nil
		},
	})
	produceTo(t, m, cfg.Location, "job.flaky")
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("handler never succeeded")
	}
	// The success is counted after the handler returns.
	waitFor(t, func() bool { return m.Stats().Handled == 1 })
	st := m.Stats()
	if calls.Load() != 3 || st.Retries != 2 || st.DeadLettered != 0 {
		t.Fatalf("calls %d retries %d dead-lettered %d", calls.Load(), st.Retries, st.DeadLettered)
	}
}

// TestRetrySeesTheRecordAsReceived: a retry gets the event as the record
// carried it, whatever the failed attempt did to its copy, with the same
// time_received as the first attempt (a reply sent from the retry must not
// claim a later receipt).
func TestRetrySeesTheRecordAsReceived(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	cfg.MaxAttempts = 2
	cfg.InitialBackoff = 2 * time.Second // >= 1 s with jitter: a later stamp would differ
	cfg.MaxBackoff = 2 * time.Second
	type seen struct {
		event, data string
		received    int64
	}
	attempts := make(chan seen, 2)
	var calls atomic.Int32
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"flaky": func(_ context.Context, ev *core.EventObject) error {
			last := ev.AuditLog[len(ev.AuditLog)-1]
			if last.TimeReceived == nil {
				return core.Permanent(errors.New("time_received not stamped"))
			}
			attempts <- seen{ev.Event, string(ev.Data), *last.TimeReceived}
			if calls.Add(1) == 1 {
				ev.Event, ev.Data = "changed", []byte(`{"changed":true}`)
				return errors.New("transient")
			}
			return nil
		},
	})
	sent := produce(t, m, cfg.Location, "job.flaky", map[string]int{"n": 1})
	var got []seen
	for len(got) < 2 {
		select {
		case s := <-attempts:
			got = append(got, s)
		case <-time.After(60 * time.Second):
			t.Fatalf("attempts seen: %+v", got)
		}
	}
	if got[0] != got[1] {
		t.Fatalf("first attempt saw %+v, the retry %+v", got[0], got[1])
	}
	if got[1].event != sent.Event || got[1].data != string(sent.Data) {
		t.Fatalf("retry saw %+v, want the record's event %q and data %s", got[1], sent.Event, sent.Data)
	}
}

func TestHandlerFailuresDeadLettered(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	cfg.MaxAttempts = 3
	var calls sync.Map
	count := func(name string) int32 {
		v, _ := calls.LoadOrStore(name, new(atomic.Int32))
		return v.(*atomic.Int32).Add(1)
	}
	after := make(chan struct{})
	errInvalid := errors.New("invalid order")
	m := routed(t, cfg, map[string]core.HandlerFunc{
		"invalid": func(context.Context, *core.EventObject) error {
			count("invalid")
			return fmt.Errorf("checking: %w", errInvalid)
		},
		"fail":  func(context.Context, *core.EventObject) error { count("fail"); return errors.New("always broken") },
		"panic": func(context.Context, *core.EventObject) error { count("panic"); panic("handler exploded") },
		"permanent": func(context.Context, *core.EventObject) error {
			count("permanent")
			return core.Permanent(errors.New("bad request"))
		},
		"after": func(context.Context, *core.EventObject) error { close(after); return nil },
	})
	m.Router().Use(core.PermanentIf(func(err error) bool { return errors.Is(err, errInvalid) }))
	invalid := produceTo(t, m, cfg.Location, "job.invalid")
	fail := produceTo(t, m, cfg.Location, "job.fail")
	pan := produceTo(t, m, cfg.Location, "job.panic")
	perm := produceTo(t, m, cfg.Location, "job.permanent")
	noRoute := produceTo(t, m, cfg.Location, "job.unknown")
	produceTo(t, m, cfg.Location, "job.after")
	select {
	case <-after:
	case <-time.After(60 * time.Second):
		t.Fatal("consumer stopped after failing handlers")
	}
	want := map[string]struct {
		attempts string
		errSub   string
	}{
		fail.CorrelationID:    {"3", "always broken"},
		pan.CorrelationID:     {"3", "panicked: handler exploded"},
		perm.CorrelationID:    {"1", "bad request"},
		noRoute.CorrelationID: {"0", "no route"},
		invalid.CorrelationID: {"1", "invalid order"},
	}
	for _, r := range kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, len(want), 60*time.Second) {
		w, ok := want[string(r.Key)]
		if !ok {
			t.Errorf("unexpected DLQ record %s", r.Key)
			continue
		}
		if got := kafkatest.Header(r, core.HeaderDLTAttempts); got != w.attempts {
			t.Errorf("%s: attempts %s, want %s", r.Key, got, w.attempts)
		}
		if got := kafkatest.Header(r, core.HeaderDLTError); !strings.Contains(got, w.errSub) {
			t.Errorf("%s: error %q, want %q", r.Key, got, w.errSub)
		}
		if kafkatest.Header(r, core.HeaderDLTOriginalTopic) != cfg.Location || kafkatest.Header(r, core.HeaderDLTOriginalOffset) == "" ||
			kafkatest.Header(r, core.HeaderDLTOriginalPartition) == "" || kafkatest.Header(r, core.HeaderCorrelationID) != string(r.Key) {
			t.Errorf("%s: headers %v", r.Key, r.Headers)
		}
		delete(want, string(r.Key))
	}
	for _, name := range []string{"permanent", "invalid"} {
		if n, _ := calls.Load(name); n.(*atomic.Int32).Load() != 1 {
			t.Errorf("%s: permanent error retried", name)
		}
	}
	if st := m.Stats(); st.Panics != 3 || st.NoRoute != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestOrderKeptWithinPartition(t *testing.T) {
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

func TestCloseFailsWaitingRequests(t *testing.T) {
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

func TestBadInput(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	m := newManager(t, cfg)
	ctx := kafkatest.Context(t, 30*time.Second)
	if err := m.Produce(ctx, cfg.Location, nil); err == nil {
		t.Error("Produce(nil) succeeded")
	}
	ev, _ := core.NewEventObject("a", nil)
	if err := m.Produce(ctx, "bad topic!", ev); err == nil {
		t.Error("Produce to an invalid topic succeeded")
	}
	if _, err := m.Request(ctx, cfg.Location, ev); !errors.Is(err, core.ErrNotStarted) {
		t.Errorf("Request before InitConsumer = %v, want ErrNotStarted", err)
	}
	broken := &core.EventObject{CorrelationID: "x", Event: "a", Data: []byte(`{"unterminated`)}
	if err := m.Produce(ctx, cfg.Location, broken); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("Produce of invalid data = %v", err)
	}
	if err := m.Reply(ctx, &core.EventObject{CorrelationID: "x", Event: "a"}, nil); !errors.Is(err, core.ErrNoReplyAddress) {
		t.Errorf("Reply without address = %v", err)
	}
	if err := m.Reply(ctx, ev, make(chan int)); err == nil {
		t.Error("Reply with unencodable data succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   core.Config
		field string
	}{
		{"no servers", core.Config{Location: "a"}, "BootstrapServers"},
		{"no location", core.Config{BootstrapServers: "x:1"}, "Location"},
		{"bad location", core.Config{BootstrapServers: "x:1", Location: "a b"}, "Location"},
		{"bad reply topic", core.Config{BootstrapServers: "x:1", Location: "a", ReplyTopic: "r/1"}, "ReplyTopic"},
		{"negative timeout", core.Config{BootstrapServers: "x:1", Location: "a", RequestTimeout: -1}, "RequestTimeout"},
		{"negative workers", core.Config{BootstrapServers: "x:1", Location: "a", Workers: -2}, "Workers"},
		{"bad allow-list", core.Config{BootstrapServers: "x:1", Location: "a", ReplyTopicAllowList: []string{""}}, "ReplyTopicAllowList"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := core.NewManager(tt.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want a ConfigError naming %s", err, tt.field)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
	t.Setenv("KAFKA_LOCATION", "orders")
	t.Setenv("KAFKA_GROUP_ID", "orders-g")
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "7s")
	t.Setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
	t.Setenv("KAFKA_PROP_SSL_CA_LOCATION", "/etc/ca.pem")
	cfg, err := core.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BootstrapServers != "127.0.0.1:9092" || cfg.Location != "orders" || cfg.GroupID != "orders-g" ||
		cfg.RequestTimeout != 7*time.Second || cfg.Kafka["security.protocol"] != "SASL_SSL" ||
		cfg.Kafka["ssl.ca.location"] != "/etc/ca.pem" {
		t.Fatalf("cfg = %+v", cfg)
	}
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "soon")
	if _, err := core.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "KAFKA_REQUEST_TIMEOUT") {
		t.Fatalf("bad duration: %v", err)
	}
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "")
	t.Setenv("KAFKA_LOCATION", "")
	if _, err := core.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "KAFKA_LOCATION") {
		t.Fatalf("missing location: %v", err)
	}
}

func TestUnreachableBroker(t *testing.T) {
	cfg := core.Config{BootstrapServers: "127.0.0.1:1", Location: "nowhere"}
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(kafkatest.Context(t, 10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = m.InitConsumer(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("InitConsumer = %v, want a deadline error naming the broker", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	ev, _ := core.NewEventObject("a", nil)
	err = m.Produce(ctx2, "nowhere", ev)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Produce = %v, want a deadline error naming the broker", err)
	}
}

// waitFor polls cond until it holds, for state that has no signal to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
