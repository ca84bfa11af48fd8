package core_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// collector is a router that records every handled correlation ID.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
}

func newCollector() *collector { return &collector{seen: map[string]int{}} }

func (c *collector) router() *core.EventRouter {
	r := core.NewEventRouter("root")
	r.BindEvent("#", func(_ context.Context, ev *core.EventObject) error {
		c.mu.Lock()
		c.seen[ev.CorrelationID]++
		c.mu.Unlock()
		return nil
	})
	return r
}

// waitAll waits until every id was seen, and returns the duplicates.
func (c *collector) waitAll(t *testing.T, ids []string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		missing, dups := 0, 0
		for _, id := range ids {
			switch n := c.seen[id]; {
			case n == 0:
				missing++
			case n > 1:
				dups++
			}
		}
		c.mu.Unlock()
		if missing == 0 {
			return dups
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never handled", missing, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// produceMany runs workers goroutines producing total events to topic while
// during() runs. It returns the IDs whose Produce returned nil, and fails the
// test when a failed Produce took longer than its ctx allowed.
func produceMany(t *testing.T, m *core.Manager, topic string, workers, total int, perCall time.Duration, during func()) []string {
	t.Helper()
	var mu sync.Mutex
	var acked []string
	failed := 0
	var wg sync.WaitGroup
	started := make(chan struct{})
	var once sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < total; i += workers {
				ev, _ := core.NewEventObject("stream.item", map[string]int{"i": i})
				ctx, cancel := context.WithTimeout(context.Background(), perCall)
				t0 := time.Now()
				err := m.Produce(ctx, topic, ev)
				took := time.Since(t0)
				cancel()
				mu.Lock()
				if err == nil {
					acked = append(acked, ev.CorrelationID)
				} else {
					failed++
					if took > perCall+2*time.Second {
						t.Errorf("failed Produce took %v, past its ctx of %v: %v", took, perCall, err)
					}
				}
				n := len(acked) + failed
				mu.Unlock()
				if n == total/10 {
					once.Do(func() { close(started) })
				}
			}
		}(w)
	}
	<-started
	during()
	wg.Wait()
	t.Logf("produced %d: %d acknowledged, %d failed with an error", total, len(acked), failed)
	return acked
}

func realBroker(t *testing.T) *realkafka.Broker {
	t.Helper()
	b, ok := realkafka.FromEnv()
	if !ok {
		t.Skip("needs the real broker of make test-kafka (KAFKA_SCRIPT)")
	}
	return b
}

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

func readLines(t *testing.T, path string) (map[string]int, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	seen := map[string]int{}
	dups := 0
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		if seen[l]++; seen[l] == 2 {
			dups++
		}
	}
	return seen, dups
}
