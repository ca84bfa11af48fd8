package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMalformedRecordsDeadLettered(t *testing.T) {
	t.Parallel()
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

func TestHandlerFailuresDeadLettered(t *testing.T) {
	t.Parallel()
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

// A record the broker refuses even as a dead letter does not stall its
// partition: the dead letter is cut until it fits (HeaderDLTTruncated), and
// the records behind it are handled.
func TestDeadLetterRefusedByBroker(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "big")
	cfg.TopicPartitions = 1
	cfg.Kafka["message.max.bytes"] = 4096 // this producer's limit
	routed := make(chan struct{})
	r := core.NewEventRouter("root")
	r.BindEvent("ok", func(context.Context, *core.EventObject) error { close(routed); return nil })
	m := startRouted(t, cfg, r)
	big := `{"correlation_id": "big-1", "event": "nope", "data": {"pad": "` + strings.Repeat("x", 6000) + `"}}`
	small := `{"correlation_id": "small-1", "event": "ok", "data": {}}`
	rawProduceAll(t, cfg.Location, []rawRecord{
		{partition: 0, key: []byte("big-1"), value: []byte(big)},
		{partition: 0, key: []byte("small-1"), value: []byte(small)},
	})
	select {
	case <-routed:
	case <-time.After(60 * time.Second):
		t.Fatalf("partition stalled behind a record that cannot be dead-lettered; stats %+v", m.Stats())
	}
	dlq := kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, 1, 60*time.Second)
	d := dlq[0]
	if string(d.Key) != "big-1" || len(d.Value) == 0 || len(d.Value) >= len(big) || !strings.HasPrefix(big, string(d.Value)) ||
		kafkatest.Header(d, core.HeaderDLTTruncated) != "value" || kafkatest.Header(d, core.HeaderDLTOriginalSize) != fmt.Sprint(len(big)+len("big-1")) ||
		kafkatest.Header(d, core.HeaderDLTOriginalOffset) != "0" {
		t.Fatalf("dead letter key %q, %d value bytes, headers %v", d.Key, len(d.Value), d.Headers)
	}
}

// A record's headers count against MaxRecordBytes, and a dead letter that
// does not fit the dead-letter topic is cut, never dropped.
func TestOversizedRecordsAreDeadLetteredCut(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	kafkatest.CreateTopicWithConfig(t, cfg.Location, 1, map[string]string{"max.message.bytes": "4000000"})
	routed := make(chan string, 4)
	r := core.NewEventRouter("root")
	r.BindEvent("ok", func(_ context.Context, ev *core.EventObject) error { routed <- ev.CorrelationID; return nil })
	cfg.MaxRecordBytes = 3_200_000 // the dead-letter topic takes about 1 MB at most
	m := startRouted(t, cfg, r)

	header := kafka.Header{Key: "x-junk", Value: []byte(strings.Repeat("h", 2<<20))}
	big := []byte(`{"correlation_id": "big", "event": "nope", "data": {"pad": "` + strings.Repeat("v", 1<<20) + `"}}`)
	rawProduceLarge(t, cfg.Location, []byte("big"), big, header)
	headersOnly := []byte(`{"correlation_id": "hdr", "event": "nope", "data": {}}`)
	rawProduceLarge(t, cfg.Location, []byte("hdr"), headersOnly,
		kafka.Header{Key: "a", Value: []byte(strings.Repeat("a", 3_300_000))}) // over MaxRecordBytes by its header
	ok, _ := request(t, "api")
	ok.Event = "ok"
	b, _ := ok.MarshalJSON()
	rawProduce(t, cfg.Location, []byte(ok.CorrelationID), b)
	if id := receive(t, routed, "the record behind the oversized ones"); id != ok.CorrelationID {
		t.Fatalf("routed %s", id)
	}
	for _, tt := range []struct {
		key, kind string
		size      int
	}{
		{"big", core.DeadLetterNoRoute, 3 + len(big) + len(header.Key) + len(header.Value)},
		{"hdr", core.MalformedTooLarge, 3 + len(headersOnly) + 1 + 3_300_000},
	} {
		dl := readKeyed(t, m.Config().DeadLetterTopic, tt.key)
		size := len(dl.Key) + len(dl.Value)
		for _, h := range dl.Headers {
			size += len(h.Key) + len(h.Value)
		}
		if kind := kafkatest.Header(dl, core.HeaderDLTErrorKind); kind != tt.kind || size > 1_000_000 ||
			!strings.Contains(kafkatest.Header(dl, core.HeaderDLTTruncated), "headers") ||
			kafkatest.Header(dl, core.HeaderDLTOriginalSize) != fmt.Sprint(tt.size) {
			t.Errorf("dead letter %s: kind %q, %d bytes, truncated %q, original size %q; want %s, <= 1 MB, headers cut, %d",
				tt.key, kind, size, kafkatest.Header(dl, core.HeaderDLTTruncated), kafkatest.Header(dl, core.HeaderDLTOriginalSize), tt.kind, tt.size)
		}
	}
	if st := m.Stats(); st.DeadLettered != 2 || st.DroppedRecords != 0 {
		t.Fatalf("dead-lettered %d, dropped %d; want 2, 0", st.DeadLettered, st.DroppedRecords)
	}
}
