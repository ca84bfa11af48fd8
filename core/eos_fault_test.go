package core_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// requestLoops sends requests for event to topic from loops goroutines, each
// with timeout, until stop is closed; it returns the correlation IDs sent,
// the replies counted as they come, and a wait that returns the failures.
func requestLoops(m *core.Manager, topic, event string, loops int, timeout time.Duration, stop <-chan struct{}) (ids func() []string, replies *atomic.Int64, wait func() []error) {
	var (
		mu   sync.Mutex
		sent []string
		errs []error
		wg   sync.WaitGroup
	)
	replies = new(atomic.Int64)
	for i := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ev, _ := core.NewEventObject(event, map[string]int{"loop": i, "n": n})
				mu.Lock()
				sent = append(sent, ev.CorrelationID)
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				sentAt := time.Now()
				_, err := m.Request(ctx, topic, ev)
				cancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("request sent at %s: %w", sentAt.Format("15:04:05.000"), err))
					mu.Unlock()
					continue
				}
				replies.Add(1)
			}
		}()
	}
	ids = func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), sent...) }
	wait = func() []error { wg.Wait(); return errs }
	return ids, replies, wait
}

// requestsAcross runs fault while 16 loops send requests for event to
// topic (60 s deadline each), until 300 more are answered after it (or two
// minutes pass); every failed request fails the test. It returns the
// correlation IDs sent and the replies counted.
func requestsAcross(t *testing.T, m *core.Manager, topic, event string, fault func()) (sent []string, answered int64) {
	t.Helper()
	stop := make(chan struct{})
	ids, replies, wait := requestLoops(m, topic, event, 16, 60*time.Second, stop)
	waitFor(t, func() bool { return replies.Load() >= 300 })
	fault()
	before := replies.Load()
	deadline := time.Now().Add(120 * time.Second)
	for replies.Load() < before+300 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // replies counted by the loops: no signal per reply
	}
	close(stop)
	for _, err := range wait() {
		t.Error(err)
	}
	return ids(), replies.Load()
}

// TestResponderCrashExactlyOnce is TestResponderCrashTakeover in
// exactly-once mode: two transactional responder processes answer requests
// and produce an event for each; one is SIGKILLed with requests in flight
// and restarted a second later with the same transactional ID, which
// aborts what it left open. Every request (30 s deadline) is answered, and
// consumers that read committed records see every reply and every event
// once. The handlers themselves ran more than once for some requests (their
// side effects outside Kafka are at-least-once): counted and logged.
func TestResponderCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs responder processes")
	}
	bin := buildResponder(t)
	location := kafkatest.Name(t, "work")
	events := kafkatest.Topic(t, "events", 3)
	dir := t.TempDir()
	flags := func(id string) []string {
		return []string{"-events", events, "-transactional", "-txn-id", location + "." + id}
	}
	a := startResponderProc(t, bin, location, filepath.Join(dir, "a.txt"), flags("a")...)
	startResponderProc(t, bin, location, filepath.Join(dir, "b.txt"), flags("b")...)
	requester := startManager(t, kafkatest.Config(t, "api"))

	stop := make(chan struct{})
	ids, replies, wait := requestLoops(requester, location, "work.echo", 64, 30*time.Second, stop)
	waitFor(t, func() bool { return replies.Load() >= 1000 })
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	time.Sleep(time.Second) // restarted a second later, as an orchestrator would
	startResponderProc(t, bin, location, filepath.Join(dir, "a2.txt"), flags("a")...)
	before := replies.Load()
	waitFor(t, func() bool { return replies.Load() >= before+1000 })
	close(stop)
	for _, err := range wait() {
		t.Errorf("%v (killed at %s)", err, killed.Format("15:04:05.000"))
	}
	sent := ids()
	want := func(c map[string]int) bool { _, missing := duplicates(c, sent); return missing == 0 }
	rdups, _ := duplicates(countKeys(t, requester.Config().ReplyTopic, "read_committed", 90*time.Second, want), sent)
	edups, _ := duplicates(countKeys(t, events, "read_committed", 90*time.Second, want), sent)
	udups, _ := duplicates(countKeys(t, events, "read_uncommitted", 90*time.Second, want), sent)
	handled := map[string]int{}
	for _, f := range []string{"a.txt", "b.txt", "a2.txt"} {
		seen, _ := readLines(t, filepath.Join(dir, f))
		for line, n := range seen {
			handled[line] += n
		}
	}
	rerun := 0
	for line, n := range handled {
		if n > 1 && strings.HasPrefix(line, "work.echo ") {
			rerun++
		}
	}
	summary := fmt.Sprintf("exactly-once across a responder SIGKILL: %d requests, all answered; read_committed: %d duplicate replies, %d duplicate events; read_uncommitted: %d duplicate events; %d handlers ran more than once",
		len(sent), rdups, edups, udups, rerun)
	t.Log(summary)
	fmt.Fprintln(os.Stderr, "TestResponderCrashExactlyOnce:", summary)
	if rdups != 0 || edups != 0 {
		t.Fatalf("read_committed consumers saw %d duplicate replies and %d duplicate events", rdups, edups)
	}
}

// TestExactlyOnceAcrossBrokerRestart restarts the broker while requests
// flow to a transactional responder: every request (60 s deadline: the
// broker is gone for several seconds) is answered, and every reply and
// event is seen once by read_committed consumers.
func TestExactlyOnceAcrossBrokerRestart(t *testing.T) {
	b := realBroker(t)
	exactlyOnceAcross(t, transactional(t, "eos"), func() {
		if err := b.Restart(kafkatest.Context(t, 180*time.Second)); err != nil {
			t.Fatalf("restart broker: %v", err)
		}
	})
}

// TestExactlyOnceAcrossBrokerKill is TestExactlyOnceAcrossBrokerRestart
// with a crash: the broker is SIGKILLed and started again on its data.
func TestExactlyOnceAcrossBrokerKill(t *testing.T) {
	b := realBroker(t)
	exactlyOnceAcross(t, transactional(t, "eos"), func() {
		ctx := kafkatest.Context(t, 180*time.Second)
		if err := b.Kill(ctx); err != nil {
			t.Fatalf("kill broker: %v", err)
		}
		if err := b.Start(ctx); err != nil {
			t.Fatalf("start broker: %v", err)
		}
	})
}

// TestExactlyOnceAcrossBrokerPause freezes the broker (SIGSTOP) while
// requests flow to a transactional responder, as a long GC pause or a
// stalled VM would: for longer than the responder's DrainTimeout, so that a
// commit's outcome is unknown when its wait ends (the commit goes on in the
// background, and only resuming it tells), and for longer than the
// transaction timeout, so that the broker aborts the open transaction
// itself and bumps the producer's epoch. Every request is answered and
// every reply and event is seen once by read_committed consumers.
func TestExactlyOnceAcrossBrokerPause(t *testing.T) {
	realBroker(t)
	for _, pause := range []time.Duration{4 * time.Second, 15 * time.Second} {
		t.Run(pause.String(), func(t *testing.T) {
			cfg := transactional(t, "eos")
			cfg.DrainTimeout = 2 * time.Second
			cfg.TransactionTimeout = 10 * time.Second
			exactlyOnceAcross(t, cfg, func() { pauseBroker(t, pause) })
		})
	}
}

// exactlyOnceAcross runs fault while requests flow to a transactional
// responder (cfg) that produces an event for each: every request (60 s
// deadline) is answered, 300 more after the fault, and read_committed
// consumers see every reply and every event once.
func exactlyOnceAcross(t *testing.T, cfg core.Config, fault func()) {
	t.Helper()
	events := kafkatest.Topic(t, "events", 3)
	var calls sync.Map
	startRouted(t, cfg, eosResponder(events, &calls))
	requester := startManager(t, kafkatest.Config(t, "api"))
	sent, _ := requestsAcross(t, requester, cfg.Location, "rpc.echo", fault)
	if t.Failed() {
		return // the counts below would wait for replies that never came
	}
	want := func(c map[string]int) bool { _, missing := duplicates(c, sent); return missing == 0 }
	rdups, _ := duplicates(countKeys(t, requester.Config().ReplyTopic, "read_committed", 120*time.Second, want), sent)
	edups, _ := duplicates(countKeys(t, events, "read_committed", 120*time.Second, want), sent)
	t.Logf("%d requests, all answered; read_committed: %d duplicate replies, %d duplicate events", len(sent), rdups, edups)
	if rdups != 0 || edups != 0 {
		t.Fatalf("read_committed consumers saw %d duplicate replies and %d duplicate events", rdups, edups)
	}
}
