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

func TestRequestReplyManyInstances(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// pythonStyleResponder answers as a responder written with the Python
// package does: it ignores headers and produces the reply to the Location
// of the request's last audit entry.
func pythonStyleResponder() *core.EventRouter {
	py := core.NewEventRouter("root")
	py.BindEvent("#", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		reply := ev.Clone()
		reply.Event = "respond"
		return m.Produce(ctx, ev.AuditLog[len(ev.AuditLog)-1].Location, reply)
	})
	return py
}

// A responder in the Python package's style ignores headers and produces
// the reply to the requester's Location: with several requester instances
// it lands on whichever owns the partition, which forwards it.
func TestPythonStyleRepliesReachTheRightInstance(t *testing.T) {
	t.Parallel()
	respCfg := kafkatest.Config(t, "svc")
	py := pythonStyleResponder()
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
	t.Parallel()
	goResp := kafkatest.Config(t, "svc")
	startGroup(t, goResp, 1, echoRouter())
	pyResp := kafkatest.Config(t, "svc")
	py := pythonStyleResponder()
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
