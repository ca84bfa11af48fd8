package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// An event shaped like a reply to this service (first hop here, last hop
// elsewhere, status completed) that no instance awaits is forwarded once to
// the shared reply topic and never routed, even by a router that binds
// every key: a reply never reaches a handler as a new request.
func TestReplyShapedEventIsNotRouted(t *testing.T) {
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	routed := make(chan string, 2)
	r := core.NewEventRouter("root")
	r.BindEvent("#", func(_ context.Context, ev *core.EventObject) error { routed <- ev.CorrelationID; return nil })
	m := startRouted(t, cfg, r)
	val := fmt.Sprintf(`{"correlation_id": "cid-1", "status": "completed", "event": "order.done", "data": {}, "audit_log": [`+
		`{"data": {}, "event": "order.place", "location": %q, "time_sent": 1, "time_received": 2}, `+
		`{"data": {}, "event": "order.done", "location": "other-svc", "time_sent": 3, "time_received": null}]}`, cfg.Location)
	next := `{"correlation_id": "cid-2", "event": "order.next", "data": {}}`
	rawProduceAll(t, cfg.Location, []rawRecord{{key: []byte("cid-1"), value: []byte(val)}, {key: []byte("cid-2"), value: []byte(next)}})
	if id := receive(t, routed, "the event behind the reply to be routed"); id != "cid-2" {
		t.Fatalf("routed %s, want only cid-2", id)
	}
	if st := m.Stats(); st.Forwarded != 1 {
		t.Fatalf("forwarded %d, want 1; stats %+v", st.Forwarded, st)
	}
}

// A handler that Requests a responder answering on the Location topic (the
// Python way) gets its reply even when it lands on the handler's own
// partition, behind the handler itself.
func TestHandlerRequestReplyOnOwnPartition(t *testing.T) {
	respCfg := kafkatest.Config(t, "py")
	py := core.NewEventRouter("root")
	py.BindEvent("#", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		reply := ev.Clone()
		reply.Status = core.StatusCompleted
		reply.Event = "respond"
		return m.Produce(ctx, ev.AuditLog[len(ev.AuditLog)-1].Location, reply)
	})
	startRouted(t, respCfg, py)

	cfg := kafkatest.Config(t, "go")
	cfg.TopicPartitions = 1 // every reply lands on the asking handler's partition
	errc := make(chan error, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("start", func(ctx context.Context, _ *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		q, _ := core.NewEventObject("ask", nil)
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := m.Request(rctx, respCfg.Location, q)
		errc <- err
		return nil
	})
	m := startRouted(t, cfg, r)
	produceTo(t, m, cfg.Location, "start")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Request from a handler: %v (stats %+v)", err, m.Stats())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("handler never ran")
	}
}

// A record the broker refuses even as a dead letter does not stall its
// partition: the dead letter is cut until it fits (HeaderDLTTruncated), and
// the records behind it are handled.
func TestDeadLetterRefusedByBroker(t *testing.T) {
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

// Close while a handler waits in Request: the Request fails with ErrClosed,
// and the record is left uncommitted for the next owner, not dead-lettered.
func TestCloseLeavesRequestingHandlerUncommitted(t *testing.T) {
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

// signalHandler is a slog.Handler that reports each record whose message is
// msg on ch (and drops the rest).
type signalHandler struct {
	msg string
	ch  chan<- struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestCloseEndsARebalanceDrain: Close(ctx) while the poll loop waits for the
// handler of a revoked partition (up to DrainTimeout) returns once ctx ends,
// reports the handler still running, and cancels that handler's context.
func TestCloseEndsARebalanceDrain(t *testing.T) {
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
			handlerDone <- ctx.Err()
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
	if err := receive(t, closed, "Close to return once its ctx ended (not the rebalance's DrainTimeout)"); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "handlers still running") {
		t.Fatalf("Close = %v, want handlers still running: context deadline exceeded", err)
	}
	if err := receive(t, handlerDone, "the abandoned handler's context to be canceled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler ended with %v, want its context canceled", err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("second member: %v", err)
	}
}
