package core_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// responderProc is a responder process (internal/faulttest/responder).
type responderProc struct {
	cmd *exec.Cmd
}

// buildResponder builds the responder command once for the test.
func buildResponder(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "responder")
	build := exec.Command("go", "build", "-o", bin, "github.com/kafka-broker/kafka-broker-go/internal/faulttest/responder")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build responder: %v\n%s", err, out)
	}
	return bin
}

// startResponderProc starts a responder on location and waits for READY.
func startResponderProc(t *testing.T, bin, location, out string) *responderProc {
	t.Helper()
	cmd := exec.Command(bin, "-brokers", kafkatest.Bootstrap(t), "-location", location, "-out", out)
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &responderProc{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) == "READY" {
				close(ready)
				break
			}
		}
		for s.Scan() { // drain
		}
	}()
	receive(t, ready, "the responder process to be READY")
	return p
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

// TestCloseBoundedWithBrokerDown: with the broker SIGKILLed, Close(ctx)
// returns by its ctx (it used to block 91 s in commits and the consumer's
// close), a Request still waiting for its produce's ack ends with ErrClosed
// at once, and a Produce without a deadline ends too.
func TestCloseBoundedWithBrokerDown(t *testing.T) {
	b, ok := realkafka.FromEnv()
	if !ok {
		t.Skip("KAFKA_SCRIPT not set: no real broker to kill")
	}
	cfg := kafkatest.Config(t, "svc")
	col := newCollector()
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	m.SetRouter(col.router())
	if err := m.InitConsumer(kafkatest.Context(t, 120*time.Second)); err != nil {
		t.Fatal(err)
	}
	target := kafkatest.Topic(t, "target", 1)
	ev := produceTo(t, m, cfg.Location, "x.y")
	col.waitAll(t, []string{ev.CorrelationID}, 60*time.Second) // an offset to commit

	ctx := kafkatest.Context(t, 180*time.Second)
	if err := b.Kill(ctx); err != nil {
		t.Fatalf("kill broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Start(kafkatest.Context(t, 180*time.Second)); err != nil {
			t.Errorf("start broker: %v", err)
		}
	})
	reqErr := make(chan error, 1)
	go func() {
		ev, _ := core.NewEventObject("ask.x", nil)
		_, err := m.Request(context.Background(), target, ev)
		reqErr <- err
	}()
	prodErr := make(chan error, 1)
	go func() {
		ev, _ := core.NewEventObject("note.x", nil)
		prodErr <- m.Produce(context.Background(), target, ev)
	}()
	waitFor(t, func() bool { return m.Stats().Pending == 1 })

	const closeWithin = 3 * time.Second
	closeCtx, cancel := context.WithTimeout(context.Background(), closeWithin)
	defer cancel()
	start := time.Now()
	err = m.Close(closeCtx)
	took := time.Since(start)
	t.Logf("Close with the broker down took %v: %v", took.Round(10*time.Millisecond), err)
	if took > closeWithin+5*time.Second {
		t.Fatalf("Close(ctx of %v) with the broker down returned after %v", closeWithin, took)
	}
	if err := receive(t, reqErr, "the Request to end"); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Request waiting for its ack: %v, want ErrClosed", err)
	}
	if err := receive(t, prodErr, "the Produce to end"); err == nil {
		t.Fatal("Produce with the broker down succeeded")
	}
}
