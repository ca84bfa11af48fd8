package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// echoRouter replies to "echo.call" with {"n": n, "by": location}.
func echoRouter() *core.EventRouter {
	r := core.NewEventRouter("root")
	echo := core.NewEventRouter("echo")
	echo.BindEvent("call", func(ctx context.Context, ev *core.EventObject) error {
		var in struct{ N int }
		if err := ev.Decode(&in); err != nil {
			return core.Permanent(err)
		}
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]any{"n": in.N, "by": m.Config().Location})
	})
	r.IncludeBinder(echo)
	return r
}

// startGroup starts n managers sharing cfg's Location and group.
func startGroup(t *testing.T, cfg core.Config, n int, router *core.EventRouter) []*core.Manager {
	t.Helper()
	ms := make([]*core.Manager, n)
	var wg sync.WaitGroup
	for i := range ms {
		ms[i] = newManager(t, cfg)
		if router != nil {
			ms[i].SetRouter(router)
		}
		wg.Add(1)
		go func(m *core.Manager) {
			defer wg.Done()
			if err := m.InitConsumer(kafkatest.Context(t, 120*time.Second)); err != nil {
				t.Errorf("InitConsumer: %v", err)
			}
		}(ms[i])
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ms
}

// requestAll sends count requests through m and checks every reply is its own.
func requestAll(m *core.Manager, topic string, base, count int, errs chan<- error) {
	var wg sync.WaitGroup
	for i := base; i < base+count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev, _ := core.NewEventObject("echo.call", map[string]int{"n": i})
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			rep, err := m.Request(ctx, topic, ev)
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
				return
			}
			var out struct{ N int }
			if err := rep.Decode(&out); err != nil || out.N != i || rep.CorrelationID != ev.CorrelationID {
				errs <- fmt.Errorf("request %d: cross-talk: got n=%d id=%s want id=%s (%w)", i, out.N, rep.CorrelationID, ev.CorrelationID, err)
			}
		}(i)
	}
	wg.Wait()
}

func TestRequestReplyManyInstances(t *testing.T) {
	respCfg := kafkatest.Config(t, "svc")
	startGroup(t, respCfg, 2, echoRouter())
	reqCfg := kafkatest.Config(t, "svc")
	reqCfg.MaxPendingRequests = 5000
	requesters := startGroup(t, reqCfg, 3, nil)

	const total = 3000
	errs := make(chan error, total)
	var wg sync.WaitGroup
	for i, m := range requesters {
		wg.Add(1)
		go func(i int, m *core.Manager) {
			defer wg.Done()
			requestAll(m, respCfg.Location, i*total/3, total/3, errs)
		}(i, m)
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed", n, total)
	}
	for _, m := range requesters {
		if st := m.Stats(); st.Pending != 0 || st.Timeouts != 0 {
			t.Errorf("stats after run: %+v", st)
		}
	}
}

func TestRequestReplyWhileInstancesJoinAndLeave(t *testing.T) {
	respCfg := kafkatest.Config(t, "svc")
	startGroup(t, respCfg, 2, echoRouter())
	reqCfg := kafkatest.Config(t, "svc")
	requesters := startGroup(t, reqCfg, 3, nil)
	leaving := requesters[2]

	// Every instance sends batches of requests until stop is closed, so
	// requests are in flight while the membership changes.
	const batch = 50
	stop := make(chan struct{})
	var next atomic.Int64
	run := func(m *core.Manager, errs chan<- error, sent *atomic.Int64) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			requestAll(m, respCfg.Location, int(next.Add(batch)), batch, errs)
			sent.Add(batch)
			if !m.Ready() {
				return
			}
		}
	}
	errs := make(chan error, 100_000)
	leaverErrs := make(chan error, 100_000)
	joinErrs := make(chan error, 100_000)
	var aliveSent, leaverSent, joinerSent atomic.Int64
	var wg sync.WaitGroup
	for _, m := range requesters[:2] {
		wg.Add(1)
		go func(m *core.Manager) { defer wg.Done(); run(m, errs, &aliveSent) }(m)
	}
	wg.Add(1)
	go func() { defer wg.Done(); run(leaving, leaverErrs, &leaverSent) }()

	// A fourth instance joins, then the third leaves, while requests run.
	joiner := newManager(t, reqCfg)
	if err := joiner.InitConsumer(kafkatest.Context(t, 120*time.Second)); err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); run(joiner, joinErrs, &joinerSent) }()
	if err := leaving.Close(kafkatest.Context(t, 60*time.Second)); err != nil {
		t.Errorf("Close of the leaving instance: %v", err)
	}
	// Let the group settle with requests still flowing, then stop.
	waitFor(t, func() bool { return joinerSent.Load() >= 4*batch })
	close(stop)
	wg.Wait()
	close(errs)
	close(joinErrs)
	close(leaverErrs)
	for err := range errs {
		t.Error("instance alive throughout:", err)
	}
	for err := range joinErrs {
		t.Error("joined instance:", err)
	}
	closed := 0
	for err := range leaverErrs {
		if !errors.Is(err, core.ErrClosed) {
			t.Error("leaving instance, not ErrClosed:", err)
		}
		closed++
	}
	t.Logf("requests: %d by instances alive throughout, %d by the joiner, %d by the leaver (%d ended with ErrClosed)",
		aliveSent.Load(), joinerSent.Load(), leaverSent.Load(), closed)
	if aliveSent.Load() == 0 || joinerSent.Load() == 0 {
		t.Fatal("no requests ran across the membership change")
	}
}

// A responder in the Python package's style ignores headers and produces
// the reply to the requester's Location: with several requester instances
// it lands on whichever owns the partition, which forwards it.
func TestPythonStyleRepliesReachTheRightInstance(t *testing.T) {
	respCfg := kafkatest.Config(t, "svc")
	py := core.NewEventRouter("root")
	py.BindEvent("#", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		reply := ev.Clone()
		reply.Event = "respond"
		return m.Produce(ctx, ev.AuditLog[len(ev.AuditLog)-1].Location, reply)
	})
	startGroup(t, respCfg, 1, py)

	reqCfg := kafkatest.Config(t, "svc")
	requesters := startGroup(t, reqCfg, 2, nil)
	errs := make(chan error, 400)
	var wg sync.WaitGroup
	for i, m := range requesters {
		wg.Add(1)
		go func(i int, m *core.Manager) {
			defer wg.Done()
			requestAll(m, respCfg.Location, i*200, 200, errs)
		}(i, m)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fwd := requesters[0].Stats().Forwarded + requesters[1].Stats().Forwarded
	if fwd == 0 {
		t.Fatal("no reply was forwarded: the test did not exercise forwarding")
	}
	t.Logf("forwarded %d of 400 replies", fwd)
}

// TestInstanceReplyTopics: each requester instance has a reply topic of its
// own. Go replies go straight to it; replies from a Python-style responder
// that reach the wrong instance are forwarded through <Location>.replies.
func TestInstanceReplyTopics(t *testing.T) {
	goResp := kafkatest.Config(t, "svc")
	startGroup(t, goResp, 1, echoRouter())
	pyResp := kafkatest.Config(t, "svc")
	py := core.NewEventRouter("root")
	py.BindEvent("#", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		reply := ev.Clone()
		reply.Event = "respond"
		return m.Produce(ctx, ev.AuditLog[len(ev.AuditLog)-1].Location, reply)
	})
	startGroup(t, pyResp, 1, py)

	reqCfg := kafkatest.Config(t, "svc")
	var requesters []*core.Manager
	for i := 0; i < 2; i++ {
		cfg := reqCfg
		cfg.ReplyTopic = fmt.Sprintf("%s-i%d.replies", reqCfg.Location, i)
		requesters = append(requesters, startGroup(t, cfg, 1, nil)...)
	}
	errs := make(chan error, 800)
	var wg sync.WaitGroup
	for i, m := range requesters {
		for j, topic := range []string{goResp.Location, pyResp.Location} {
			wg.Add(1)
			go func(base int, m *core.Manager, topic string) {
				defer wg.Done()
				requestAll(m, topic, base, 100, errs)
			}((2*i+j)*100, m, topic)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if fwd := requesters[0].Stats().Forwarded + requesters[1].Stats().Forwarded; fwd == 0 {
		t.Fatal("no reply was forwarded: the test did not exercise forwarding")
	}
	// Each instance's own topic holds only the Go replies to its requests.
	for _, m := range requesters {
		if low, high := watermarks(t, m.Config().ReplyTopic); high-low != 100 {
			t.Errorf("%s holds %d records, want the 100 Go replies", m.Config().ReplyTopic, high-low)
		}
	}
}

func TestReplyTopicAllowList(t *testing.T) {
	victim := kafkatest.Config(t, "svc")
	victimM := startManager(t, victim) // the topic a crafted request tries to write into
	respCfg := kafkatest.Config(t, "svc")
	replied := make(chan error, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("call", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		err := m.Reply(ctx, ev, map[string]string{"secret": "x"})
		replied <- err
		return err
	})
	resp := startRouted(t, respCfg, r)

	ev, _ := core.NewEventObject("call", nil)
	ev.AuditLog = []core.AuditEntry{{Event: "call", Location: "attacker", TimeSent: time.Now().Unix()}}
	val, _ := ev.MarshalJSON()
	rawProduce(t, respCfg.Location, []byte(ev.CorrelationID), val,
		kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(victim.Location)})
	select {
	case err := <-replied:
		if !errors.Is(err, core.ErrReplyTopicNotAllowed) {
			t.Fatalf("Reply = %v, want ErrReplyTopicNotAllowed", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("crafted request not handled")
	}
	dlq := kafkatest.ReadTopic(t, resp.Config().DeadLetterTopic, 1, 60*time.Second)
	if string(dlq[0].Key) != ev.CorrelationID || kafkatest.Header(dlq[0], core.HeaderDLTAttempts) != "1" {
		t.Fatalf("DLQ record %s attempts %s", dlq[0].Key, kafkatest.Header(dlq[0], core.HeaderDLTAttempts))
	}
	// The refusal happened before the DLQ write; the victim topic is empty.
	if low, high := watermarks(t, victim.Location); high != low {
		t.Fatalf("victim topic got %d records", high-low)
	}
	_ = victimM
}

func watermarks(t *testing.T, topic string) (low, high int64) {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.ClientConfig(t, kafka.ConfigMap{"group.id": kafkatest.Name(t, "wm")}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[topic].Partitions {
		l, h, err := c.QueryWatermarkOffsets(topic, p.ID, 10000)
		if err != nil {
			t.Fatal(err)
		}
		low += l
		high += h
	}
	return low, high
}

func TestPendingRequestsBounded(t *testing.T) {
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
