package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// flaky is a service whose handler order.created fails for events with
// {"fail": true} while broken is set: the bug a redrive follows the fix of.
// Its Location has one partition, so that an event produced after others is
// handled after them (sync).
type flaky struct {
	cfg    core.Config
	m      *core.Manager
	broken atomic.Bool

	mu      sync.Mutex
	handled map[string]int               // successful runs by correlation ID
	last    map[string]*core.EventObject // the event of the last successful run
	pings   chan string
}

func startFlaky(t *testing.T, cfg core.Config) *flaky {
	t.Helper()
	f := &flaky{cfg: cfg, handled: map[string]int{}, last: map[string]*core.EventObject{}, pings: make(chan string, 16)}
	order := core.NewEventRouter("order")
	order.BindEvent("created", func(_ context.Context, ev *core.EventObject) error {
		var in struct{ Fail bool }
		if err := ev.Decode(&in); err != nil {
			return err
		}
		if in.Fail && f.broken.Load() {
			return core.Permanent(errors.New("payment service says: broken"))
		}
		f.mu.Lock()
		f.handled[ev.CorrelationID]++
		f.last[ev.CorrelationID] = ev.Clone()
		f.mu.Unlock()
		return nil
	})
	root := core.NewEventRouter("root")
	root.IncludeBinder(order)
	root.BindEvent("ping", func(_ context.Context, ev *core.EventObject) error {
		f.pings <- ev.CorrelationID
		return nil
	})
	f.m = startRouted(t, cfg, root)
	f.cfg = f.m.Config()
	return f
}

// flakyConfig is a config whose Location has one partition; the
// dead-letter topic is created with dlqPartitions partitions and topic
// configs.
func flakyConfig(t *testing.T, dlqPartitions int, dlqConfig map[string]string) core.Config {
	t.Helper()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	cfg.MaxAttempts = 1
	kafkatest.CreateTopicWithConfig(t, cfg.Location+".dlq", dlqPartitions, dlqConfig)
	return cfg
}

// produce sends event with data to the service and returns its correlation ID.
func (f *flaky) produce(t *testing.T, event string, data any) string {
	t.Helper()
	ev, err := core.NewEventObject(event, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Produce(kafkatest.Context(t, 60*time.Second), f.cfg.Location, ev); err != nil {
		t.Fatal(err)
	}
	return ev.CorrelationID
}

// sync returns once everything produced to the Location before it was handled.
func (f *flaky) sync(t *testing.T) {
	t.Helper()
	id := f.produce(t, "ping", nil)
	for {
		if got := receive(t, f.pings, "the ping that follows everything sent before"); got == id {
			return
		}
	}
}

func (f *flaky) handledCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handled[id]
}

func (f *flaky) waitDeadLettered(t *testing.T, n uint64) {
	t.Helper()
	waitFor(t, func() bool { return f.m.Stats().DeadLettered >= n })
}

func openDeadLetters(t *testing.T, cfg core.Config, opts ...core.Option) *core.DeadLetters {
	t.Helper()
	opts = append([]core.Option{core.WithLogger(kafkatest.Logger())}, opts...)
	d, err := core.OpenDeadLetters(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func list(t *testing.T, d *core.DeadLetters, f core.DeadLetterFilter) []*core.DeadLetter {
	t.Helper()
	var out []*core.DeadLetter
	if err := d.List(kafkatest.Context(t, 60*time.Second), f, func(dl *core.DeadLetter) error {
		out = append(out, dl)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func redrive(t *testing.T, d *core.DeadLetters, o core.RedriveOptions) *core.RedriveResult {
	t.Helper()
	res, err := d.Redrive(kafkatest.Context(t, 120*time.Second), o)
	if err != nil {
		t.Fatalf("Redrive: %v", err)
	}
	return res
}

// wantCounts checks a result's counts.
func wantCounts(t *testing.T, what string, res *core.RedriveResult, read, skipped, redriven, refused, failed int) {
	t.Helper()
	if res.Read != read || res.Skipped != skipped || res.Redriven != redriven || res.Refused != refused || res.Failed != failed {
		t.Fatalf("%s: read %d, skipped %d, redriven %d, refused %d (%v), failed %d; want %d, %d, %d, %d, %d",
			what, res.Read, res.Skipped, res.Redriven, res.Refused, res.Refusals, res.Failed, read, skipped, redriven, refused, failed)
	}
}

// The story: a handler fails for N events, which are dead-lettered;
// the bug is fixed; a redrive of kind handler replays exactly those N, each
// handled once, with the correlation ID kept, a redrive hop and a count; a
// second redrive of them is refused unless forced; a dry run changes
// nothing; the metric counts by kind and outcome.
func TestRedriveReplaysFixedFailuresOnce(t *testing.T) {
	t.Parallel()
	f := startFlaky(t, flakyConfig(t, 2, nil))
	f.broken.Store(true)
	const n = 5
	var failed []string
	for i := 0; i < n; i++ {
		failed = append(failed, f.produce(t, "order.created", map[string]any{"fail": true, "i": i}))
	}
	fine := f.produce(t, "order.created", map[string]any{"fail": false})
	noRoute := f.produce(t, "nobody.home", nil)
	f.waitDeadLettered(t, n+1)
	f.broken.Store(false) // the fix

	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	d := openDeadLetters(t, f.cfg, core.WithMeterProvider(mp))

	entries := list(t, d, core.DeadLetterFilter{})
	if len(entries) != n+1 {
		t.Fatalf("listed %d dead letters, want %d", len(entries), n+1)
	}
	partitions := map[int32]bool{}
	for _, e := range entries {
		partitions[e.Partition] = true
		switch e.CorrelationID {
		case noRoute:
			if e.Kind != core.DeadLetterNoRoute || e.EventName() != "nobody.home" {
				t.Errorf("no-route dead letter: kind %q, event %q", e.Kind, e.EventName())
			}
		default:
			if e.Kind != core.DeadLetterHandler || e.EventName() != "order.created" || e.Attempts != 1 ||
				e.OriginalTopic != f.cfg.Location || e.OriginalOffset < 0 || !strings.Contains(e.Error, "broken") ||
				e.Refusal != "" || e.Redriven != nil || e.Key != e.CorrelationID || e.Timestamp.IsZero() {
				t.Errorf("handler dead letter: %+v", e)
			}
		}
	}
	if len(partitions) < 2 {
		t.Logf("the dead letters all landed in one partition of two: %v", partitions)
	}
	if got := list(t, d, core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}, Error: "BROKEN", Events: []string{"order.*"}}); len(got) != n {
		t.Fatalf("filtered list: %d dead letters, want %d", len(got), n)
	}

	dry := redrive(t, d, core.RedriveOptions{Filter: core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}}, DryRun: true})
	wantCounts(t, "dry run", dry, n+1, 1, 0, 0, 0)
	if dry.WouldRedrive != n {
		t.Fatalf("dry run would redrive %d, want %d", dry.WouldRedrive, n)
	}

	var outcomes []core.RedriveOutcome
	res := redrive(t, d, core.RedriveOptions{
		Filter:  core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}},
		OnEntry: func(o core.RedriveOutcome) { outcomes = append(outcomes, o) },
	})
	wantCounts(t, "redrive", res, n+1, 1, n, 0, 0)
	if res.Resumed || res.ByKind[core.DeadLetterHandler].Redriven != n || len(outcomes) != n+1 {
		t.Fatalf("redrive: resumed %v (the dry run saved no position), by kind %+v, %d outcomes", res.Resumed, res.ByKind, len(outcomes))
	}
	if policy := topicConfig(t, f.cfg.DeadLetterTopic+".redrive", "cleanup.policy"); policy != "compact" {
		t.Errorf("the redrive ledger's cleanup.policy is %q, want compact", policy)
	}
	f.sync(t)
	for _, id := range failed {
		if c := f.handledCount(id); c != 1 {
			t.Errorf("event %s handled %d times after the redrive, want 1", id, c)
		}
	}
	if c := f.handledCount(fine); c != 1 {
		t.Errorf("the event that never failed was handled %d times, want 1", c)
	}
	// The redriven event: its correlation ID, and a hop from the dead-letter topic.
	f.mu.Lock()
	ev := f.last[failed[0]]
	f.mu.Unlock()
	if hop := ev.AuditLog[len(ev.AuditLog)-1]; hop.Location != f.cfg.DeadLetterTopic || len(ev.AuditLog) != 2 || hop.TimeReceived == nil {
		t.Errorf("redriven event's audit log: %+v; want a second hop from %s", ev.AuditLog, f.cfg.DeadLetterTopic)
	}
	// The redriven record: keyed by the correlation ID, counted, with its source.
	recs := kafkatest.ReadTopic(t, f.cfg.Location, 2*n+3, 60*time.Second)
	redriven := 0
	for _, r := range recs {
		if kafkatest.Header(r, core.HeaderDLTRedriveCount) == "" {
			continue
		}
		redriven++
		var got core.EventObject
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != got.CorrelationID || kafkatest.Header(r, core.HeaderCorrelationID) != got.CorrelationID ||
			kafkatest.Header(r, core.HeaderDLTRedriveCount) != "1" ||
			!strings.HasPrefix(kafkatest.Header(r, core.HeaderDLTRedriveSource), f.cfg.DeadLetterTopic+"/") ||
			kafkatest.Header(r, core.HeaderDLTError) != "" {
			t.Errorf("redriven record: key %q, id %q, headers %v", r.Key, got.CorrelationID, r.Headers)
		}
	}
	if redriven != n {
		t.Errorf("%d redriven records on %s, want %d", redriven, f.cfg.Location, n)
	}

	// The same job again resumes where the last run ended: nothing new.
	again := redrive(t, d, core.RedriveOptions{Filter: core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}}})
	wantCounts(t, "the same job again", again, 0, 0, 0, 0, 0)
	if !again.Resumed {
		t.Fatal("the same job again did not resume")
	}
	// From the start, the ledger refuses what was redriven.
	restart := redrive(t, d, core.RedriveOptions{Filter: core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}}, Restart: true})
	wantCounts(t, "a second redrive", restart, n+1, 1, 0, n, 0)
	if restart.Refusals[core.RefusedAlreadyRedriven] != n {
		t.Fatalf("a second redrive: refusals %v", restart.Refusals)
	}
	// Another job sees the ledger too: no job redrives an entry twice.
	other := redrive(t, d, core.RedriveOptions{Filter: core.DeadLetterFilter{CorrelationID: failed[1]}})
	wantCounts(t, "another job", other, n+1, n, 0, 1, 0)
	// Force redrives it again.
	forced := redrive(t, d, core.RedriveOptions{Filter: core.DeadLetterFilter{CorrelationID: failed[0]}, Force: true})
	wantCounts(t, "forced", forced, n+1, n, 1, 0, 0)
	f.sync(t)
	for i, id := range failed {
		want := 1
		if i == 0 {
			want = 2
		}
		if c := f.handledCount(id); c != want {
			t.Errorf("event %d handled %d times, want %d", i, c, want)
		}
	}
	for _, e := range list(t, d, core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}}) {
		want := 1
		if e.CorrelationID == failed[0] {
			want = 2
		}
		if e.Redriven == nil || e.Redriven.Times != want || e.Redriven.To != f.cfg.Location || e.Refusal != core.RefusedAlreadyRedriven {
			t.Errorf("listed after the redrives: redriven %+v, refusal %q; want %d times", e.Redriven, e.Refusal, want)
		}
	}

	// kafka_broker.dlq.redrives by kind and outcome (dry runs are not counted).
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != "kafka_broker.dlq.redrives" {
				continue
			}
			for _, p := range mt.Data.(metricdata.Sum[int64]).DataPoints {
				kind, _ := p.Attributes.Value(attribute.Key("kind"))
				outcome, _ := p.Attributes.Value(attribute.Key("outcome"))
				got[kind.AsString()+"/"+outcome.AsString()] += p.Value
			}
		}
	}
	want := map[string]int64{"handler/redriven": n + 1, "handler/refused": n + 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kafka_broker.dlq.redrives = %v, want %v", got, want)
	}
}

// An interrupted redrive leaves only whole batches behind, and a run of the
// same job resumes after them: every event is handled once. The second
// case interrupts with a batch open, whose records are aborted.
func TestRedriveInterruptedResumes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// stop reports whether to cancel the run at this outcome.
		stop func(o core.RedriveOutcome, redriven int) bool
	}{
		{"after the first commit", func(_ core.RedriveOutcome, redriven int) bool { return redriven == 1 }},
		{"with a batch open", func(o core.RedriveOutcome, _ int) bool { return o.Status == core.RedriveSkipped }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startFlaky(t, flakyConfig(t, 1, nil))
			f.broken.Store(true)
			var ids []string
			for i := 0; i < 8; i++ {
				ids = append(ids, f.produce(t, "order.created", map[string]any{"fail": true}))
				if i == 0 {
					f.produce(t, "nobody.home", nil) // skipped by the filter
				}
			}
			f.waitDeadLettered(t, 9)
			f.broken.Store(false)
			d := openDeadLetters(t, f.cfg)

			opts := core.RedriveOptions{Filter: core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}}, BatchSize: 3}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			redriven := 0
			first := opts
			first.OnEntry = func(o core.RedriveOutcome) {
				if o.Status == core.RedriveRedriven {
					redriven++
				}
				if tt.stop(o, redriven) {
					cancel()
				}
			}
			res1, err := d.Redrive(ctx, first)
			if !errors.Is(err, context.Canceled) || !res1.Interrupted {
				t.Fatalf("interrupted run: %v, interrupted %v", err, res1.Interrupted)
			}
			res2 := redrive(t, d, opts)
			if !res2.Resumed && res1.Redriven > 0 {
				t.Fatal("the second run did not resume")
			}
			if res1.Redriven+res2.Redriven != len(ids) || res2.Refused != 0 || res2.Failed != 0 {
				t.Fatalf("redriven %d, then %d (refused %d, failed %d); want %d in all, none refused",
					res1.Redriven, res2.Redriven, res2.Refused, res2.Failed, len(ids))
			}
			t.Logf("first run redrove %d of %d (read %d), the second resumed with %d", res1.Redriven, len(ids), res1.Read, res2.Redriven)
			f.sync(t)
			for i, id := range ids {
				if c := f.handledCount(id); c != 1 {
					t.Errorf("event %d handled %d times, want 1", i, c)
				}
			}
		})
	}
}

// What cannot be replayed is reported and refused with its reason: a dead
// letter whose value was cut (always), whose headers were cut or whose value
// is not an event (unless forced), a record past MaxRedrives (always).
func TestRedriveRefusesWhatCannotBeReplayed(t *testing.T) {
	t.Parallel()
	// A dead-letter topic that takes records of 3000 bytes at most makes the
	// service cut the large dead letters.
	cfg := flakyConfig(t, 1, map[string]string{"max.message.bytes": "3000"})
	const maxHops = 4
	cfg.MaxHops = maxHops // the service's, which OpenDeadLetters takes
	f := startFlaky(t, cfg)
	f.broken.Store(true)
	big := f.produce(t, "order.created", map[string]any{"fail": true, "pad": strings.Repeat("x", 5000)})
	hdrEv, _ := core.NewEventObject("order.created", map[string]any{"fail": true})
	hdrValue, _ := hdrEv.MarshalJSON()
	rawProduce(t, f.cfg.Location, []byte(hdrEv.CorrelationID), hdrValue, kafka.Header{Key: "x-big", Value: []byte(strings.Repeat("h", 4000))})
	rawProduce(t, f.cfg.Location, []byte("junk"), []byte("{not json"))
	noRoute := f.produce(t, "nobody.home", nil)
	reply := []byte(`{"correlation_id": "reply", "status": "completed", "event": "order.created", "data": {}}`)
	rawProduce(t, f.cfg.Location, []byte("reply"), reply) // nothing awaits it: unsolicited_reply
	far, _ := core.NewEventObject("order.created", map[string]any{"fail": true})
	far.CorrelationID = "far"
	for i := 0; i < maxHops; i++ {
		far.AuditLog = append(far.AuditLog, core.AuditEntry{Location: fmt.Sprint("hop-", i), Event: far.Event, TimeSent: 1})
	}
	farValue, _ := far.MarshalJSON()
	rawProduce(t, f.cfg.Location, []byte("far"), farValue) // MaxHops hops: handled, but no room for a redrive hop
	f.waitDeadLettered(t, 6)
	f.broken.Store(false)
	d := openDeadLetters(t, f.cfg)

	refusals := map[string]string{}
	for _, e := range list(t, d, core.DeadLetterFilter{}) {
		refusals[e.CorrelationID] = e.Refusal
		switch e.CorrelationID {
		case big:
			if !e.Cut() || e.Truncated[len(e.Truncated)-1] != "value" || e.OriginalSize < 5000 || e.DecodeError == "" {
				t.Errorf("the cut dead letter: truncated %v, original size %d, decode error %q", e.Truncated, e.OriginalSize, e.DecodeError)
			}
		case hdrEv.CorrelationID:
			if e.Cut() || !e.HeadersCut() || fmt.Sprint(e.Truncated) != "[headers]" || e.Event == nil {
				t.Errorf("the dead letter without its headers: truncated %v, event %v", e.Truncated, e.Event)
			}
		case "junk":
			if e.Kind != core.MalformedNotJSON || e.RawValue != "{not json" {
				t.Errorf("the malformed dead letter: kind %q, raw %q", e.Kind, e.RawValue)
			}
		}
	}
	want := map[string]string{big: core.RefusedCut, hdrEv.CorrelationID: core.RefusedHeadersCut, "junk": core.RefusedUndecodable, noRoute: "",
		"reply": core.RefusedUnsolicitedReply, "far": core.RefusedMaxHops}
	if fmt.Sprint(refusals) != fmt.Sprint(want) {
		t.Fatalf("listed refusals %v, want %v", refusals, want)
	}

	opts := core.RedriveOptions{MaxRedrives: 1}
	var details []string
	opts.OnEntry = func(o core.RedriveOutcome) {
		if o.Status == core.RedriveRefused {
			details = append(details, o.Detail)
		}
	}
	res := redrive(t, d, opts)
	wantCounts(t, "redrive", res, 6, 0, 1, 5, 0)
	if fmt.Sprint(res.Refusals) != fmt.Sprint(map[string]int{core.RefusedCut: 1, core.RefusedHeadersCut: 1, core.RefusedUndecodable: 1,
		core.RefusedUnsolicitedReply: 1, core.RefusedMaxHops: 1}) {
		t.Fatalf("refusals %v", res.Refusals)
	}
	for _, d := range details {
		if len(d) < 40 {
			t.Errorf("refusal detail too terse to act on: %q", d)
		}
	}
	// The no-route event comes back (there is still no route), counted once.
	f.waitDeadLettered(t, 7)
	opts.OnEntry = nil
	res = redrive(t, d, opts)
	wantCounts(t, "the returned dead letter", res, 1, 0, 0, 1, 0)
	if res.Refusals[core.RefusedMaxRedrives] != 1 {
		t.Fatalf("refusals %v, want max_redrives", res.Refusals)
	}

	// Force overrides what it can: not a cut value, MaxHops nor MaxRedrives.
	opts.Force, opts.Restart = true, true
	res = redrive(t, d, opts)
	wantCounts(t, "forced", res, 7, 0, 4, 3, 0)
	if fmt.Sprint(res.Refusals) != fmt.Sprint(map[string]int{core.RefusedCut: 1, core.RefusedMaxHops: 1, core.RefusedMaxRedrives: 1}) {
		t.Fatalf("forced: refusals %v", res.Refusals)
	}
	f.sync(t)
	if c := f.handledCount(hdrEv.CorrelationID); c != 1 {
		t.Errorf("the event whose headers were cut was handled %d times after a forced redrive, want 1", c)
	}
	// The undecodable value went as it was, and came back counted.
	f.waitDeadLettered(t, 10) // the junk, the no-route event and the reply again
	junk := list(t, d, core.DeadLetterFilter{CorrelationID: "junk"})
	if len(junk) != 2 || junk[1].RedriveCount != 1 || junk[1].RawValue != "{not json" || junk[1].RedriveSource != fmt.Sprintf("%s/%d@%d", d.Topic(), junk[0].Partition, junk[0].Offset) {
		t.Fatalf("the forced junk record: %+v", junk)
	}
}

// Dead letters go to their original topic when it is the Location or
// allowed; another topic must be allowed, and no redrive writes to a
// dead-letter, ledger or internal topic. A topic that does not exist fails
// the entry, and the next run of the job retries it.
func TestRedriveTargets(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.DeadLetterTopic = cfg.Location + ".dlq"
	kafkatest.CreateTopic(t, cfg.DeadLetterTopic, 1)
	elsewhere := kafkatest.Topic(t, "elsewhere", 1)
	other := kafkatest.Topic(t, "other", 1)
	missing := kafkatest.Name(t, "missing")
	deadLetter := func(origin, id string) {
		ev, _ := core.NewEventObject("order.created", nil)
		ev.CorrelationID = id
		b, _ := ev.MarshalJSON()
		rawProduce(t, cfg.DeadLetterTopic, []byte(id), b,
			kafka.Header{Key: core.HeaderDLTErrorKind, Value: []byte(core.DeadLetterHandler)},
			kafka.Header{Key: core.HeaderDLTOriginalTopic, Value: []byte(origin)})
	}
	deadLetter(elsewhere, "from-elsewhere")
	deadLetter(missing, "from-missing")
	d := openDeadLetters(t, cfg)
	ctx := kafkatest.Context(t, 60*time.Second)

	for _, tt := range []struct {
		o    core.RedriveOptions
		want string
	}{
		{core.RedriveOptions{To: other}, "not in the allow-list"},
		{core.RedriveOptions{To: cfg.DeadLetterTopic, AllowTo: []string{"*"}}, "dead-letter topic"},
		{core.RedriveOptions{To: "__consumer_offsets", AllowTo: []string{"*"}}, "internal topic"},
		{core.RedriveOptions{AllowTo: []string{"bad name"}}, "not a topic name"},
		{core.RedriveOptions{Filter: core.DeadLetterFilter{Events: []string{"a..b"}}}, "empty segment"},
	} {
		if _, err := d.Redrive(ctx, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Redrive(%+v) = %v, want an error saying %q", tt.o, err, tt.want)
		}
	}

	res := redrive(t, d, core.RedriveOptions{})
	wantCounts(t, "origins not allowed", res, 2, 0, 0, 2, 0)
	if res.Refusals[core.RefusedTarget] != 2 {
		t.Fatalf("refusals %v", res.Refusals)
	}
	allow := core.RedriveOptions{AllowTo: []string{elsewhere, missing}}
	var failure error
	allow.OnEntry = func(o core.RedriveOutcome) {
		if o.Status == core.RedriveFailed {
			failure = o.Err
		}
	}
	res = redrive(t, d, allow)
	wantCounts(t, "allowed origins", res, 2, 0, 1, 0, 1)
	if !errors.Is(failure, core.ErrUnknownTopic) {
		t.Fatalf("the send to a missing topic failed with %v, want ErrUnknownTopic", failure)
	}
	if r := kafkatest.ReadTopic(t, elsewhere, 1, 30*time.Second)[0]; string(r.Key) != "from-elsewhere" {
		t.Fatalf("redriven to %s: %q", elsewhere, r.Key)
	}
	// The failed entry holds the job's position: the next run retries it.
	kafkatest.CreateTopic(t, missing, 1)
	allow.OnEntry = nil
	res = redrive(t, d, allow)
	if !res.Resumed || res.Redriven != 1 || res.Failed != 0 {
		t.Fatalf("the run after the failure: resumed %v, %+v", res.Resumed, res)
	}
	// To sends everything to an allowed topic.
	res = redrive(t, d, core.RedriveOptions{To: other, AllowTo: []string{other}, Force: true})
	wantCounts(t, "to another topic", res, 2, 0, 2, 0, 0)
	if got := kafkatest.ReadTopic(t, other, 2, 30*time.Second); len(got) != 2 {
		t.Fatalf("%d records on %s", len(got), other)
	}
}

// A redrive that starts fences one still running on the same dead-letter
// topic: the later one sees the earlier one's committed batches in the
// ledger, and the earlier one stops at its next transaction. Every event is
// handled once.
func TestRedriveFencesAnEarlierRun(t *testing.T) {
	t.Parallel()
	f := startFlaky(t, flakyConfig(t, 1, nil))
	f.broken.Store(true)
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, f.produce(t, "order.created", map[string]any{"fail": true}))
	}
	f.waitDeadLettered(t, uint64(len(ids)))
	f.broken.Store(false)
	first := openDeadLetters(t, f.cfg)
	second := openDeadLetters(t, f.cfg) // as another process would

	var later *core.RedriveResult
	res, err := first.Redrive(kafkatest.Context(t, 120*time.Second), core.RedriveOptions{
		Filter:    core.DeadLetterFilter{Kinds: []string{core.DeadLetterHandler}},
		BatchSize: 2,
		OnEntry: func(o core.RedriveOutcome) {
			if o.Status == core.RedriveRedriven && later == nil {
				later = redrive(t, second, core.RedriveOptions{Filter: core.DeadLetterFilter{Events: []string{"order.#"}}})
			}
		},
	})
	if err == nil || res.Redriven != 2 {
		t.Fatalf("the fenced run: %v, redriven %d; want an error after its first batch", err, res.Redriven)
	}
	t.Logf("the fenced run stopped with: %v", err)
	wantCounts(t, "the later run", later, len(ids), 0, len(ids)-2, 2, 0)
	f.sync(t)
	for i, id := range ids {
		if c := f.handledCount(id); c != 1 {
			t.Errorf("event %d handled %d times, want 1", i, c)
		}
	}
}

// The ledger names dead letters by partition and offset of one incarnation
// of the topic: after the topic is deleted and created again, a new dead
// letter at the same position is not taken for the old one.
func TestRedriveLedgerKeepsToItsTopic(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.DeadLetterTopic = cfg.Location + ".dlq"
	kafkatest.CreateTopic(t, cfg.Location, 1)
	kafkatest.CreateTopic(t, cfg.DeadLetterTopic, 1)
	deadLetter := func(id string) {
		ev, _ := core.NewEventObject("order.created", nil)
		ev.CorrelationID = id
		b, _ := ev.MarshalJSON()
		rawProduce(t, cfg.DeadLetterTopic, []byte(id), b,
			kafka.Header{Key: core.HeaderDLTErrorKind, Value: []byte(core.DeadLetterHandler)},
			kafka.Header{Key: core.HeaderDLTOriginalTopic, Value: []byte(cfg.Location)})
	}
	deadLetter("first")
	d := openDeadLetters(t, cfg)
	wantCounts(t, "the first topic", redrive(t, d, core.RedriveOptions{}), 1, 0, 1, 0, 0)

	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := kafkatest.Context(t, 60*time.Second)
	if res, err := a.DeleteTopics(ctx, []string{cfg.DeadLetterTopic}); err != nil || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("delete %s: %v %v", cfg.DeadLetterTopic, err, res)
	}
	waitFor(t, func() bool {
		res, err := a.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: cfg.DeadLetterTopic, NumPartitions: 1, ReplicationFactor: -1}})
		return err == nil && res[0].Error.Code() == kafka.ErrNoError
	})
	kafkatest.CreateTopic(t, cfg.DeadLetterTopic, 1) // waits until it is known
	deadLetter("second")
	res := redrive(t, d, core.RedriveOptions{Restart: true})
	wantCounts(t, "the topic created again", res, 1, 0, 1, 0, 0)
}

func TestDeadLettersGet(t *testing.T) {
	t.Parallel()
	f := startFlaky(t, flakyConfig(t, 1, nil))
	id := f.produce(t, "nobody.home", map[string]int{"n": 1})
	f.waitDeadLettered(t, 1)
	d := openDeadLetters(t, f.cfg)
	ctx := kafkatest.Context(t, 60*time.Second)
	e, err := d.Get(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.CorrelationID != id || e.Kind != core.DeadLetterNoRoute || string(e.Event.Data) != `{"n":1}` || len(e.Headers) < 6 {
		t.Fatalf("Get: %+v", e)
	}
	for _, pos := range [][2]int64{{0, 1}, {0, -1}, {5, 0}} {
		if _, err := d.Get(ctx, int32(pos[0]), pos[1]); !errors.Is(err, core.ErrDeadLetterNotFound) {
			t.Errorf("Get(%d, %d) = %v, want ErrDeadLetterNotFound", pos[0], pos[1], err)
		}
	}
	if n, err := d.Partitions(ctx); err != nil || n != 1 {
		t.Fatalf("Partitions = %d, %v", n, err)
	}
	d.Close()
	if _, err := d.Get(ctx, 0, 0); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
}

func TestDeadLetterFilter(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	dl := &core.DeadLetter{
		Kind: core.DeadLetterHandler, Error: "Payment Service says: broken", Timestamp: at,
		CorrelationID: "id-1", Key: "key-1",
		Event: &core.EventObject{Event: "order.item.added"},
	}
	undecodable := &core.DeadLetter{Kind: core.MalformedNotJSON, Timestamp: at, Key: "k"}
	tests := []struct {
		name string
		f    core.DeadLetterFilter
		dl   *core.DeadLetter
		want bool
	}{
		{"zero", core.DeadLetterFilter{}, dl, true},
		{"kind", core.DeadLetterFilter{Kinds: []string{"no_route", "handler"}}, dl, true},
		{"other kind", core.DeadLetterFilter{Kinds: []string{"no_route"}}, dl, false},
		{"error ignores case", core.DeadLetterFilter{Error: "payment service"}, dl, true},
		{"error", core.DeadLetterFilter{Error: "timeout"}, dl, false},
		{"exact event", core.DeadLetterFilter{Events: []string{"order.item.added"}}, dl, true},
		{"star is one segment", core.DeadLetterFilter{Events: []string{"order.*"}}, dl, false},
		{"star", core.DeadLetterFilter{Events: []string{"order.*.added"}}, dl, true},
		{"hash", core.DeadLetterFilter{Events: []string{"order.#"}}, dl, true},
		{"hash matches zero segments", core.DeadLetterFilter{Events: []string{"order.item.added.#"}}, dl, true},
		{"any pattern", core.DeadLetterFilter{Events: []string{"x", "#.added"}}, dl, true},
		{"event of an undecodable value", core.DeadLetterFilter{Events: []string{"#"}}, undecodable, false},
		{"since", core.DeadLetterFilter{Since: at}, dl, true},
		{"since later", core.DeadLetterFilter{Since: at.Add(time.Second)}, dl, false},
		{"until is exclusive", core.DeadLetterFilter{Until: at}, dl, false},
		{"until", core.DeadLetterFilter{Until: at.Add(time.Second)}, dl, true},
		{"correlation ID", core.DeadLetterFilter{CorrelationID: "id-1"}, dl, true},
		{"record key", core.DeadLetterFilter{CorrelationID: "key-1"}, dl, true},
		{"other correlation ID", core.DeadLetterFilter{CorrelationID: "id-2"}, dl, false},
		{"all of them", core.DeadLetterFilter{Kinds: []string{"handler"}, Error: "broken", Events: []string{"order.#"},
			Since: at.Add(-time.Hour), Until: at.Add(time.Hour), CorrelationID: "id-1"}, dl, true},
		{"all but one", core.DeadLetterFilter{Kinds: []string{"handler"}, Error: "broken", Events: []string{"order.#"},
			Since: at.Add(-time.Hour), Until: at.Add(time.Hour), CorrelationID: "id-2"}, dl, false},
		{"invalid pattern matches nothing", core.DeadLetterFilter{Events: []string{"order..x"}}, dl, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(tt.dl); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []core.DeadLetterFilter{{Events: []string{""}}, {Events: []string{"a."}}, {Since: at, Until: at}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}

func TestDeadLetterCut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		dl   core.DeadLetter
		want bool
	}{
		{core.DeadLetter{}, false},
		{core.DeadLetter{Truncated: []string{"error"}}, false},
		{core.DeadLetter{Truncated: []string{"error", "headers"}}, false},
		{core.DeadLetter{Truncated: []string{"key"}}, true},
		{core.DeadLetter{Truncated: []string{"value"}}, true},
		{core.DeadLetter{ValueDropped: "too large"}, true},
	} {
		if got := tt.dl.Cut(); got != tt.want {
			t.Errorf("Cut(%v, %q) = %v, want %v", tt.dl.Truncated, tt.dl.ValueDropped, got, tt.want)
		}
	}
}

// topicConfig returns a config value of topic, as the broker describes it.
func topicConfig(t *testing.T, topic, name string) string {
	t.Helper()
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic}})
	if err != nil || len(res) != 1 || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("describe the configs of %s: %v %v", topic, err, res)
	}
	return res[0].Config[name].Value
}
