package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	t.Parallel()
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
	t.Parallel()
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

func TestPendingRequestsBounded(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.MaxPendingRequests = 5
	m := startManager(t, cfg)
	nobody := kafkatest.Topic(t, "nobody", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, _ := core.NewEventObject("x", nil)
			_, _ = m.Request(ctx, nobody, ev)
		}()
	}
	waitFor(t, func() bool { return m.Stats().Pending == 5 })
	ev, _ := core.NewEventObject("x", nil)
	start := time.Now()
	if _, err := m.Request(ctx, nobody, ev); !errors.Is(err, core.ErrTooManyPending) {
		t.Fatalf("6th request = %v, want ErrTooManyPending", err)
	}
	t.Logf("refused in %v", time.Since(start))
	cancel()
	wg.Wait()
	if p := m.Stats().Pending; p != 0 {
		t.Fatalf("pending = %d after cancel", p)
	}
}

// TestDuplicateReplyIsDropped: a responder that replies twice (it crashed
// after replying and before committing, say) answers a Request once; the
// other copies, on the Location topic or the reply topic, are counted as
// duplicates, not late replies, and do not reach the late-reply hook.
func TestDuplicateReplyIsDropped(t *testing.T) {
	t.Parallel()
	var hooked atomic.Int32
	req := startManager(t, kafkatest.Config(t, "svc"), core.WithLateReplyHook(func(*core.EventObject) { hooked.Add(1) }))
	cfg := req.Config()
	ev, errs := pendingRequest(t, req)
	// Replies as a Python responder writes them, to the requester's Location,
	// and one more as a Go responder writes it, to the reply topic.
	b := pythonReply(t, cfg.Location, ev)
	key := []byte(ev.CorrelationID)
	rawProduce(t, cfg.Location, key, b)
	rawProduce(t, cfg.Location, key, b)
	rawProduce(t, cfg.ReplyTopic, key, b)
	if err := receive(t, errs, "the reply"); err != nil {
		t.Fatalf("Request: %v", err)
	}
	waitFor(t, func() bool { return req.Stats().DuplicateReplies == 2 })
	if st := req.Stats(); st.LateReplies != 0 || hooked.Load() != 0 {
		t.Fatalf("duplicates taken for late replies: %d late, hook called %d times", st.LateReplies, hooked.Load())
	}
}

func TestLateReplyHook(t *testing.T) {
	t.Parallel()
	respCfg := kafkatest.Config(t, "svc")
	release := make(chan struct{})
	r := core.NewEventRouter("root")
	r.BindEvent("slow", func(ctx context.Context, ev *core.EventObject) error {
		<-release
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, nil)
	})
	startRouted(t, respCfg, r)

	late := make(chan *core.EventObject, 1)
	var hooked atomic.Int32
	req := startManager(t, kafkatest.Config(t, "svc"), core.WithLateReplyHook(func(ev *core.EventObject) {
		hooked.Add(1)
		late <- ev
	}))
	ev, _ := core.NewEventObject("slow", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := req.Request(ctx, respCfg.Location, ev); !errors.Is(err, core.ErrReplyTimeout) {
		t.Fatalf("Request = %v", err)
	}
	close(release)
	select {
	case got := <-late:
		if got.CorrelationID != ev.CorrelationID {
			t.Fatalf("late reply %s, want %s", got.CorrelationID, ev.CorrelationID)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("late reply never reached the hook")
	}
	if st := req.Stats(); st.LateReplies != 1 || st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}
