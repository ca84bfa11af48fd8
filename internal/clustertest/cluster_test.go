package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// TestTopicsReplicatedByDefault: the topics a manager creates with
// ReplicationFactor 0 get the broker's default, 3 replicas on this cluster,
// all in sync; a factor above the broker count fails the start at once.
func TestTopicsReplicatedByDefault(t *testing.T) {
	c := clusterFromEnv(t)
	cfg := kafkatest.Config(t, "svc")
	newManager(t, cfg)
	for _, topic := range []string{cfg.Location, cfg.Location + ".replies", cfg.Location + ".dlq"} {
		replicas, inSync := c.replicas(t, topic)
		if len(replicas) != core.DefaultTopicPartitions {
			t.Fatalf("%s has %d partitions, want %d", topic, len(replicas), core.DefaultTopicPartitions)
		}
		for p := range replicas {
			if replicas[p] != c.nodes || inSync[p] != c.nodes {
				t.Fatalf("%s/%d: %d replicas, %d in sync; want %d", topic, p, replicas[p], inSync[p], c.nodes)
			}
		}
	}

	cfg = kafkatest.Config(t, "svc")
	cfg.ReplicationFactor = c.nodes + 1
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	t0 := time.Now()
	err = m.InitConsumer(kafkatest.Context(t, 30*time.Second))
	want := regexp.MustCompile(fmt.Sprintf(`ReplicationFactor %d: the cluster has %d brokers available`, c.nodes+1, c.nodes))
	if err == nil || !want.MatchString(err.Error()) || time.Since(t0) > 10*time.Second {
		t.Fatalf("InitConsumer with ReplicationFactor %d = %v after %v; want at once an error matching %q",
			c.nodes+1, err, time.Since(t0), want)
	}
	t.Logf("%v", err)
}

// op is one Request or Produce of the load.
type op struct {
	start, end time.Time
	err        error
}

// load sends requests and events to a service from several managers, each
// with several goroutines, until stop is called.
type load struct {
	mu       sync.Mutex
	requests []op
	produces []op
	acked    []string // correlation IDs of acknowledged events
	wrong    []string // replies that do not match their request
	stopCh   chan struct{}
	wg       sync.WaitGroup
}

// requestTimeout is every request's deadline, and every Produce's.
const requestTimeout = 30 * time.Second

func startLoad(managers []*core.Manager, perManager int, every time.Duration, topic string) *load {
	l := &load{stopCh: make(chan struct{})}
	for mi, m := range managers {
		for g := range perManager {
			l.wg.Add(1)
			go l.run(m, fmt.Sprintf("%d-%d", mi, g), every, topic)
		}
	}
	return l
}

func (l *load) run(m *core.Manager, name string, every time.Duration, topic string) {
	defer l.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-l.stopCh:
			return
		case <-tick.C:
		}
		// Each call has its own deadline, not the load's: a request once
		// sent runs to its reply or its deadline.
		body := fmt.Sprintf("%s/%d", name, n)
		ev, _ := core.NewEventObject("work.echo", body)
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		o := op{start: time.Now()}
		reply, err := m.Request(ctx, topic, ev)
		o.end, o.err = time.Now(), err
		cancel()
		var got string
		if err == nil {
			_ = json.Unmarshal(reply.Data, &got)
		}
		note, _ := core.NewEventObject("work.note", body)
		ctx, cancel = context.WithTimeout(context.Background(), requestTimeout)
		p := op{start: time.Now()}
		p.err = m.Produce(ctx, topic, note)
		p.end = time.Now()
		cancel()

		l.mu.Lock()
		l.requests = append(l.requests, o)
		if err == nil && got != body {
			l.wrong = append(l.wrong, fmt.Sprintf("%s: reply %q", body, got))
		}
		l.produces = append(l.produces, p)
		if p.err == nil {
			l.acked = append(l.acked, note.CorrelationID)
		}
		l.mu.Unlock()
	}
}

func (l *load) stop() {
	close(l.stopCh)
	l.wg.Wait()
}

// okRepliesAfter counts requests answered after t.
func (l *load) okRepliesAfter(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.requests {
		if o.err == nil && o.end.After(t) {
			n++
		}
	}
	return n
}

// waitReplies waits until n requests were answered after t.
func (l *load) waitReplies(tb testing.TB, t time.Time, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for l.okRepliesAfter(t) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d requests answered after %v within %v; want %d", l.okRepliesAfter(t), t.Format(time.TimeOnly), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// window describes the requests that overlap [from, to].
type window struct {
	requests, failed int
	maxLatency       time.Duration
	firstReply       time.Duration // from `from` to the first reply after it
	lastInFlight     time.Duration // from `from` to the end of the last request started before from+1s
}

func (l *load) window(from, to time.Time) window {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := window{firstReply: -1}
	for _, o := range l.requests {
		if o.end.Before(from) || o.start.After(to) {
			continue
		}
		w.requests++
		if o.err != nil {
			w.failed++
		}
		w.maxLatency = max(w.maxLatency, o.end.Sub(o.start))
		if o.err == nil && o.end.After(from) && (w.firstReply < 0 || o.end.Sub(from) < w.firstReply) {
			w.firstReply = o.end.Sub(from)
		}
		if o.start.Before(from.Add(time.Second)) {
			w.lastInFlight = max(w.lastInFlight, o.end.Sub(from))
		}
	}
	return w
}

// TestFailoverUnderLoad: three requesting instances send requests (30 s
// deadline each) and events to a service of two responder processes while
// the leader of the service's first partition is SIGKILLed and started again,
// and then every node is restarted in turn (controlled shutdown, waiting for
// the replicas to catch up before the next). Every request gets its reply,
// every acknowledged event is handled; duplicates and the time from the kill
// to the first reply are reported.
func TestFailoverUnderLoad(t *testing.T) {
	c := clusterFromEnv(t)
	c.waitInSync(t, time.Minute)
	bin := buildResponder(t)
	dir := t.TempDir()
	location := kafkatest.Name(t, "work")
	outs := []string{filepath.Join(dir, "handled-1.txt"), filepath.Join(dir, "handled-2.txt")}
	for _, out := range outs {
		startResponder(t, bin, location, out)
	}
	reqCfg := kafkatest.Config(t, "req")
	var managers []*core.Manager
	for range 3 {
		managers = append(managers, newManager(t, reqCfg))
	}

	l := startLoad(managers, 4, 10*time.Millisecond, location)
	stopped := false
	defer func() {
		if !stopped {
			l.stop()
		}
	}()
	tStart := time.Now()
	l.waitReplies(t, tStart, 300, time.Minute)

	// Kill the leader of the Location's partition 0, run 10 s without it,
	// start it again.
	victim := c.leader(t, location, 0)
	t.Logf("SIGKILL node %d, the leader of %s/0", victim, location)
	tKill := time.Now()
	c.node(t, c.script.KillNode, victim)
	l.waitReplies(t, tKill, 300, time.Minute)
	time.Sleep(time.Until(tKill.Add(10 * time.Second))) // the load runs on without the node
	c.node(t, c.script.StartNode, victim)
	tBack := time.Now()
	catchUp := c.waitInSync(t, 2*time.Minute)
	t.Logf("node %d back after %v, in sync %v later", victim, tBack.Sub(tKill).Round(100*time.Millisecond), catchUp.Round(100*time.Millisecond))
	kill := l.window(tKill, time.Now())

	// Rolling restart.
	tRoll := time.Now()
	for n := 1; n <= c.nodes; n++ {
		t0 := time.Now()
		c.node(t, c.script.StopNode, n)
		c.node(t, c.script.StartNode, n)
		inSync := c.waitInSync(t, 2*time.Minute)
		l.waitReplies(t, t0, 50, time.Minute)
		t.Logf("node %d restarted in %v (in sync after %v more)", n, time.Since(t0).Round(100*time.Millisecond), inSync.Round(100*time.Millisecond))
	}
	roll := l.window(tRoll, time.Now())
	rollTook := time.Since(tRoll)
	l.waitReplies(t, time.Now(), 100, time.Minute)
	l.stop()
	stopped = true
	all := l.window(tStart, time.Now())

	// Every acknowledged event handled, at least once.
	var missing []string
	var counts map[string]map[string]int
	deadline := time.Now().Add(90 * time.Second)
	for {
		counts = handled(t, outs...)
		missing = slices.DeleteFunc(slices.Clone(l.acked), func(id string) bool { return counts["work.note"][id] > 0 })
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	dups := func(event string) (n int) {
		for _, c := range counts[event] {
			n += c - 1
		}
		return n
	}
	produceFailed := 0
	for _, p := range l.produces {
		if p.err != nil {
			produceFailed++
			if produceFailed <= 5 {
				t.Errorf("Produce failed after %v: %v", p.end.Sub(p.start).Round(time.Millisecond), p.err)
			}
		}
	}
	for i, o := range l.requests {
		if o.err != nil && i < 1000 {
			t.Errorf("request failed after %v: %v", o.end.Sub(o.start).Round(time.Millisecond), o.err)
		}
	}

	summary := fmt.Sprintf("cluster failover: %d requests, %d failed, %d wrong replies; %d events acknowledged, %d produces failed, %d never handled; duplicates: %d requests, %d events handled twice or more; "+
		"leader kill: first reply after %v, every request sent before kill+1s done after %v, max latency %v (%d requests, %d failed); "+
		"rolling restart of %d nodes: %v, max latency %v (%d requests, %d failed); max latency overall %v",
		all.requests, all.failed, len(l.wrong), len(l.acked), produceFailed, len(missing), dups("work.echo"), dups("work.note"),
		kill.firstReply.Round(time.Millisecond), kill.lastInFlight.Round(time.Millisecond), kill.maxLatency.Round(time.Millisecond), kill.requests, kill.failed,
		c.nodes, rollTook.Round(100*time.Millisecond), roll.maxLatency.Round(time.Millisecond), roll.requests, roll.failed, all.maxLatency.Round(time.Millisecond))
	t.Log(summary)
	if all.failed > 0 || len(l.wrong) > 0 || produceFailed > 0 || len(missing) > 0 {
		t.Fatalf("want no failed request or produce, no wrong reply, every acknowledged event handled; wrong: %v", l.wrong[:min(len(l.wrong), 5)])
	}
}
