package core_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestHandlerRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

func TestBadInput(t *testing.T) {
	t.Parallel()
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
