package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

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

func TestProduceConsumeStorage(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	m := startManager(t, cfg)
	ev, err := core.NewEventObject("test.return", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := kafkatest.Context(t, 30*time.Second)
	if err := m.Produce(ctx, cfg.Location, ev); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	got, err := m.ConsumerStorage().Consume(ctx, ev.CorrelationID)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if got.CorrelationID != ev.CorrelationID || got.Event != "test.return" || got.Status != core.StatusPending {
		t.Fatalf("got %+v", got)
	}
	var data struct{ N int }
	if err := got.Decode(&data); err != nil || data.N != 1 {
		t.Fatalf("Decode: %v %+v", err, data)
	}
	if len(got.AuditLog) != 1 {
		t.Fatalf("audit log: %+v", got.AuditLog)
	}
	a := got.AuditLog[0]
	if a.Location != cfg.Location || a.Event != "test.return" || a.TimeSent == 0 || a.TimeReceived == nil {
		t.Fatalf("audit entry: %+v", a)
	}
	if len(ev.AuditLog) != 0 {
		t.Fatalf("Produce changed the caller's event: %+v", ev.AuditLog)
	}
}

func TestRequestReplyConcurrent(t *testing.T) {
	t.Parallel()
	respCfg := kafkatest.Config(t, "svc")
	responder := startManager(t, respCfg)
	r := core.NewEventRouter("svc")
	math := core.NewEventRouter("math")
	math.BindEvent("double", func(ctx context.Context, ev *core.EventObject) error {
		var in struct{ N int }
		if err := ev.Decode(&in); err != nil {
			return core.Permanent(err)
		}
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]int{"n": in.N * 2})
	})
	r.IncludeBinder(math)
	responder.SetRouter(r)

	reqCfg := kafkatest.Config(t, "svc")
	requester := startManager(t, reqCfg)

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev, _ := core.NewEventObject("math.double", map[string]int{"n": i})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := requester.Request(ctx, respCfg.Location, ev)
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			var out struct{ N int }
			if err := rep.Decode(&out); err != nil {
				errs <- err
				return
			}
			if rep.CorrelationID != ev.CorrelationID || out.N != 2*i || rep.Status != core.StatusCompleted {
				errs <- fmt.Errorf("request %d: reply %+v data %d", i, rep, out.N)
				return
			}
			if len(rep.AuditLog) != 2 || rep.AuditLog[0].Location != reqCfg.Location || rep.AuditLog[1].Location != respCfg.Location {
				errs <- fmt.Errorf("request %d: audit log %+v", i, rep.AuditLog)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := requester.Stats().Pending; p != 0 {
		t.Errorf("pending after all replies: %d", p)
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	m := startManager(t, cfg)
	m.SetRouter(core.NewEventRouter("nobody")) // consumed requests go nowhere
	target := kafkatest.Topic(t, "svc", 1)
	ev, _ := core.NewEventObject("nobody.home", nil)
	ctx := kafkatest.Context(t, 500*time.Millisecond)
	_, err := m.Request(ctx, target, ev)
	if !errors.Is(err, core.ErrReplyTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrReplyTimeout and DeadlineExceeded", err)
	}
	if p := m.Stats().Pending; p != 0 {
		t.Fatalf("pending = %d after timeout", p)
	}
}
