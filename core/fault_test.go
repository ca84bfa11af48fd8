package core_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestProduceAcrossBrokerRestart(t *testing.T) {
	b := realBroker(t)
	cfg := kafkatest.Config(t, "svc")
	col := newCollector()
	m := startRouted(t, cfg, col.router())
	acked := produceMany(t, m, cfg.Location, 8, 5000, 60*time.Second, func() {
		if err := b.Restart(kafkatest.Context(t, 180*time.Second)); err != nil {
			t.Fatalf("restart broker: %v", err)
		}
	})
	dups := col.waitAll(t, acked, 180*time.Second)
	t.Logf("all %d acknowledged events consumed; %d duplicates", len(acked), dups)
}

func TestStreamAcrossBrokerKill(t *testing.T) {
	b := realBroker(t)
	cfg := kafkatest.Config(t, "svc")
	col := newCollector()
	m := startRouted(t, cfg, col.router())
	acked := produceMany(t, m, cfg.Location, 8, 20000, 60*time.Second, func() {
		ctx := kafkatest.Context(t, 180*time.Second)
		if err := b.Kill(ctx); err != nil {
			t.Fatalf("kill broker: %v", err)
		}
		if err := b.Start(ctx); err != nil {
			t.Fatalf("start broker: %v", err)
		}
	})
	dups := col.waitAll(t, acked, 240*time.Second)
	t.Logf("all %d acknowledged events handled at least once; %d handled more than once", len(acked), dups)
}

// pauseBroker freezes the broker (SIGSTOP) for d, then lets it go on.
func pauseBroker(t *testing.T, d time.Duration) {
	t.Helper()
	b := realBroker(t)
	ctx := kafkatest.Context(t, d+30*time.Second)
	if err := b.Pause(ctx); err != nil {
		t.Fatalf("pause broker: %v", err)
	}
	time.Sleep(d) // the fault itself: the broker stays frozen this long
	if err := b.Resume(ctx); err != nil {
		t.Fatalf("resume broker: %v", err)
	}
}

// TestStreamAcrossBrokerPause freezes the broker for 15 s (longer than the
// consumers' 6 s session timeout) while events are produced and handled:
// every acknowledged event is handled at least once.
func TestStreamAcrossBrokerPause(t *testing.T) {
	realBroker(t)
	cfg := kafkatest.Config(t, "svc")
	col := newCollector()
	m := startRouted(t, cfg, col.router())
	acked := produceMany(t, m, cfg.Location, 8, 5000, 60*time.Second, func() { pauseBroker(t, 15*time.Second) })
	dups := col.waitAll(t, acked, 180*time.Second)
	t.Logf("all %d acknowledged events handled at least once; %d handled more than once", len(acked), dups)
}

// TestRequestReplyAcrossBrokerPause freezes the broker for 15 s while
// requests flow to an at-least-once responder: every request (60 s
// deadline) is answered, and 300 more after.
func TestRequestReplyAcrossBrokerPause(t *testing.T) {
	realBroker(t)
	cfg := kafkatest.Config(t, "svc")
	startRouted(t, cfg, echoRouter())
	requester := startManager(t, kafkatest.Config(t, "api"))
	sent, answered := requestsAcross(t, requester, cfg.Location, "echo.call", func() { pauseBroker(t, 15*time.Second) })
	t.Logf("%d requests across a 15 s broker pause, %d answered", len(sent), answered)
}

// TestConsumerProcessKilled SIGKILLs a consumer process mid-stream and
// starts it again: every acknowledged event is handled at least once.
func TestConsumerProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a separate process")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "consumer")
	build := exec.Command("go", "build", "-o", bin, "github.com/kafka-broker/kafka-broker-go/internal/faulttest/consumer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build consumer: %v\n%s", err, out)
	}
	cfg := kafkatest.Config(t, "svc")
	out := filepath.Join(dir, "handled.txt")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-brokers", kafkatest.Bootstrap(t), "-location", cfg.Location, "-out", out)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "READY" {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(120 * time.Second):
			cmd.Process.Kill()
			t.Fatal("consumer process never became ready")
		}
		return cmd
	}
	proc := start()
	m := startManager(t, kafkatest.Config(t, "svc"))
	acked := produceMany(t, m, cfg.Location, 8, 4000, 60*time.Second, func() {
		// Kill once the process has handled something.
		waitFor(t, func() bool { fi, err := os.Stat(out); return err == nil && fi.Size() > 0 })
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		proc = start()
	})
	defer func() {
		proc.Process.Signal(syscall.SIGTERM)
		proc.Wait()
	}()
	deadline := time.Now().Add(180 * time.Second)
	for {
		seen, dups := readLines(t, out)
		missing := 0
		for _, id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			t.Logf("all %d acknowledged events handled across the kill; %d more than once", len(acked), dups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never handled", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestResponderCrashTakeover: two responder processes share the Location's
// partitions; one is SIGKILLed while requests are in flight and restarted a
// second later. Every request, with the default 30 s deadline, gets its
// reply: the crashed member's partitions serve again within the group's
// session timeout (6 s by default; librdkafka's 45 s used to fail most of
// them). The measured takeover is logged.
func TestResponderCrashTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs responder processes")
	}
	bin := buildResponder(t)
	location := kafkatest.Name(t, "work")
	dir := t.TempDir()
	a := startResponderProc(t, bin, location, filepath.Join(dir, "a.txt"))
	startResponderProc(t, bin, location, filepath.Join(dir, "b.txt"))
	requester := startManager(t, kafkatest.Config(t, "api"))

	type result struct {
		sent, done time.Time
		err        error
	}
	var (
		mu      sync.Mutex
		results []result
		replies atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ev, _ := core.NewEventObject("work.echo", map[string]int{"loop": i, "n": n})
				sent := time.Now()
				_, err := requester.Request(context.Background(), location, ev) // RequestTimeout: 30 s
				mu.Lock()
				results = append(results, result{sent, time.Now(), err})
				mu.Unlock()
				if err == nil {
					replies.Add(1)
				}
			}
		}()
	}
	waitFor(t, func() bool { return replies.Load() >= 200 })
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	time.Sleep(time.Second) // the crashed instance is restarted a second later, as an orchestrator would
	startResponderProc(t, bin, location, filepath.Join(dir, "a2.txt"))
	before := replies.Load()
	waitFor(t, func() bool { return replies.Load() >= before+200 })
	close(stop)
	wg.Wait()

	var failed int
	var takeover time.Duration
	for _, r := range results {
		if r.err != nil {
			failed++
			t.Errorf("request sent %v after the kill: %v", r.sent.Sub(killed).Round(time.Millisecond), r.err)
			continue
		}
		// Requests in flight at the kill, or sent just after, to the crashed
		// member's partitions wait for the takeover.
		if r.sent.Before(killed.Add(time.Second)) && r.done.After(killed) {
			takeover = max(takeover, r.done.Sub(killed))
		}
	}
	summary := fmt.Sprintf("takeover after a responder SIGKILL: %v (last request in flight at the kill answered); %d requests, %d failed",
		takeover.Round(100*time.Millisecond), len(results), failed)
	t.Log(summary)
	fmt.Fprintln(os.Stderr, "TestResponderCrashTakeover:", summary)
}
