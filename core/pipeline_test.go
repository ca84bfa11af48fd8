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

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Inside a handler, Reply returns once the reply is queued (the next record
// of the partition is handled meanwhile); AwaitAcks waits for the broker's
// acknowledgement. The requester gets every reply, in any case.
func TestPipelinedRepliesAndAwaitAcks(t *testing.T) {
	t.Parallel()
	respCfg := kafkatest.Config(t, "svc")
	respCfg.TopicPartitions = 1
	var awaited atomic.Int32
	r := core.NewEventRouter("root")
	r.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		if err := m.Reply(ctx, ev, ev.Data); err != nil {
			return err
		}
		var in struct{ Wait bool }
		_ = ev.Decode(&in)
		if in.Wait {
			if err := core.AwaitAcks(ctx); err != nil {
				return err
			}
			awaited.Add(1)
		}
		return nil
	})
	resp := startRouted(t, respCfg, r)
	req := startManager(t, kafkatest.Config(t, "api"))
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, _ := core.NewEventObject("echo", map[string]any{"i": i, "wait": i%10 == 0})
			rep, err := req.Request(kafkatest.Context(t, 60*time.Second), respCfg.Location, ev)
			if err == nil && rep.CorrelationID != ev.CorrelationID {
				err = fmt.Errorf("reply %s to request %s", rep.CorrelationID, ev.CorrelationID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := awaited.Load(); got != n/10 {
		t.Fatalf("AwaitAcks returned nil in %d handlers, want %d", got, n/10)
	}
	waitFor(t, func() bool { return resp.Stats().Produced >= n })
	if err := core.AwaitAcks(context.Background()); err != nil {
		t.Fatalf("AwaitAcks outside a handler: %v", err)
	}
}

// A reply the broker refuses for good after the handler returned (too
// large for the reply topic) is not lost silently: the request is
// dead-lettered with kind send_failed, and only then is its offset
// committed (a new member of the group does not handle it again).
func TestReplyRefusedAfterTheHandlerReturned(t *testing.T) {
	t.Parallel()
	replies := kafkatest.Name(t, "small") + ".replies"
	kafkatest.CreateTopicWithConfig(t, replies, 1, map[string]string{"max.message.bytes": "2000"})
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	var runs atomic.Int32
	r := core.NewEventRouter("root")
	r.BindEvent("ask", func(ctx context.Context, ev *core.EventObject) error {
		runs.Add(1)
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]string{"pad": strings.Repeat("x", 5000)}) // queued: nil
	})
	m := startRouted(t, cfg, r)
	ev, value := request(t, "api")
	rawProduce(t, cfg.Location, []byte(ev.CorrelationID), value, kafkaHeader(core.HeaderReplyTopic, replies))
	dl := readKeyed(t, m.Config().DeadLetterTopic, ev.CorrelationID)
	if kind := kafkatest.Header(dl, core.HeaderDLTErrorKind); kind != core.DeadLetterSendFailed {
		t.Fatalf("dead letter kind %q (%s), want %q", kind, kafkatest.Header(dl, core.HeaderDLTError), core.DeadLetterSendFailed)
	}
	if err := m.Close(kafkatest.Context(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The offset was committed with the dead letter: a new member of the
	// group starts after it.
	next := startRouted(t, cfg, r)
	marker, mv := request(t, "api")
	marker.Event = "ask"
	rawProduce(t, cfg.Location, []byte(marker.CorrelationID), mv, kafkaHeader(core.HeaderReplyTopic, replies))
	readKeyed(t, next.Config().DeadLetterTopic, marker.CorrelationID)
	if got := runs.Load(); got != 2 {
		t.Fatalf("handler ran %d times, want 2: the first record was handled again", got)
	}
}

// ProduceAsync returns once queued and reports each ack to its callback;
// Flush waits for them all. A topic that does not exist fails at once.
func TestProduceAsyncAndFlush(t *testing.T) {
	t.Parallel()
	m := startManager(t, kafkatest.Config(t, "svc"))
	topic := kafkatest.Topic(t, "events", 3)
	const n = 1000
	var acked, failed atomic.Int32
	for i := range n {
		ev, _ := core.NewEventObject("tick", map[string]int{"i": i})
		if err := m.ProduceAsync(kafkatest.Context(t, 60*time.Second), topic, ev, func(err error) {
			if err != nil {
				failed.Add(1)
				return
			}
			acked.Add(1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(kafkatest.Context(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != n || failed.Load() != 0 {
		t.Fatalf("after Flush: %d acked, %d failed; want %d, 0", acked.Load(), failed.Load(), n)
	}
	if low, high := watermarks(t, topic); high-low != n {
		t.Fatalf("topic holds %d records after %d acks", high-low, n)
	}
	if recs := kafkatest.ReadTopic(t, topic, n, 60*time.Second); len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	ev, _ := core.NewEventObject("tick", nil)
	if err := m.ProduceAsync(context.Background(), kafkatest.Name(t, "missing"), ev, nil); !errors.Is(err, core.ErrUnknownTopic) {
		t.Fatalf("ProduceAsync to a missing topic: %v, want ErrUnknownTopic", err)
	}
}
