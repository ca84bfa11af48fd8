package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
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

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// service is a running service whose handler order.created fails for
// events with {"fail": true} while broken is set. Its Location has one
// partition, so sync can wait for everything sent before.
type service struct {
	location string
	m        *core.Manager
	broken   atomic.Bool

	mu      sync.Mutex
	handled map[string]int
	pings   chan string
}

// startService starts the service; its dead-letter topic is created first
// with dlqConfig.
func startService(t *testing.T, dlqConfig map[string]string) *service {
	t.Helper()
	s := &service{location: kafkatest.Name(t, "svc"), handled: map[string]int{}, pings: make(chan string, 16)}
	kafkatest.CreateTopicWithConfig(t, s.location+".dlq", 1, dlqConfig)
	order := core.NewEventRouter("order")
	order.BindEvent("created", func(_ context.Context, ev *core.EventObject) error {
		var in struct{ Fail bool }
		if err := ev.Decode(&in); err != nil {
			return err
		}
		if in.Fail && s.broken.Load() {
			return errors.New("payment service says: broken")
		}
		s.mu.Lock()
		s.handled[ev.CorrelationID]++
		s.mu.Unlock()
		return nil
	})
	root := core.NewEventRouter("root")
	root.IncludeBinder(order)
	root.BindEvent("ping", func(_ context.Context, ev *core.EventObject) error {
		s.pings <- ev.CorrelationID
		return nil
	})
	s.m = startManagerAt(t, core.Config{
		BootstrapServers: kafkatest.Bootstrap(t),
		Location:         s.location,
		TopicPartitions:  1,
		MaxAttempts:      1,
		Kafka:            kafkatest.ClientProps(),
	}, root)
	return s
}

// startManagerAt runs a manager with cfg and router r until the test ends.
func startManagerAt(t *testing.T, cfg core.Config, r *core.EventRouter) *core.Manager {
	t.Helper()
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	m.SetRouter(r)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

func (s *service) produce(t *testing.T, event string, data any) string {
	t.Helper()
	ev, err := core.NewEventObject(event, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.m.Produce(kafkatest.Context(t, 60*time.Second), s.location, ev); err != nil {
		t.Fatal(err)
	}
	return ev.CorrelationID
}

func (s *service) sync(t *testing.T) {
	t.Helper()
	id := s.produce(t, "ping", nil)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case got := <-s.pings:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatal("the ping after everything sent was never handled")
		}
	}
}

func (s *service) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handled[id]
}

func (s *service) waitDeadLettered(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for s.m.Stats().DeadLettered < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records dead-lettered within a minute", s.m.Stats().DeadLettered, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonObjects decodes every line of out.
func jsonObjects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// outcomes counts a redrive's JSON entry lines by status, and returns its summary.
func outcomes(t *testing.T, out string) (map[string]int, map[string]any) {
	t.Helper()
	counts := map[string]int{}
	var summary map[string]any
	for _, l := range jsonObjects(t, out) {
		switch l["type"] {
		case "entry":
			counts[l["status"].(string)]++
		case "summary":
			summary = l
		}
	}
	if summary == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	return counts, summary
}

// The story through the command: a handler fails for N events;
// after the fix, `dlq redrive --kind handler` replays exactly those N, each
// handled once; a second redrive is refused; what cannot be replayed (a cut
// dead letter, an undecodable one) is listed as such and refused.
func TestDLQRedriveCommand(t *testing.T) {
	// A dead-letter topic that takes 3000-byte records at most cuts the large one.
	s := startService(t, map[string]string{"max.message.bytes": "3000"})
	s.broken.Store(true)
	const n = 4
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, s.produce(t, "order.created", map[string]any{"fail": true, "i": i}))
	}
	big := s.produce(t, "order.created", map[string]any{"fail": true, "pad": strings.Repeat("x", 5000)})
	rawProduce(t, s.location, "junk", "{not json")
	s.waitDeadLettered(t, n+2)
	s.broken.Store(false) // the fix

	r := run(t, nil, "dlq", "list", s.location, "--format", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("dlq list: exit %d\n%s", r.code, r.stderr)
	}
	listed := jsonObjects(t, r.stdout)
	if len(listed) != n+2 {
		t.Fatalf("dlq list printed %d dead letters, want %d:\n%s", len(listed), n+2, r.stdout)
	}
	var bigOffset float64 = -1
	for _, l := range listed {
		switch l["correlation_id"] {
		case big:
			bigOffset = l["offset"].(float64)
			if l["refusal"] != core.RefusedCut || l["truncated"] == nil {
				t.Errorf("the cut dead letter is listed as %v", l)
			}
		case "junk":
			if l["kind"] != core.MalformedNotJSON || l["refusal"] != core.RefusedUndecodable || l["raw_value"] != "{not json" {
				t.Errorf("the malformed dead letter is listed as %v", l)
			}
		default:
			if l["kind"] != core.DeadLetterHandler || l["refusal"] != nil || l["error"] != "payment service says: broken" ||
				l["original_topic"] != s.location || l["event"].(map[string]any)["event"] != "order.created" {
				t.Errorf("a handler dead letter is listed as %v", l)
			}
		}
	}

	r = run(t, nil, "dlq", "list", s.location, "--kind", "handler", "--format", "human")
	// The cut one's value is not an event any more: no event name.
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "POSITION") || strings.Count(r.stdout, "order.created") != n ||
		!strings.Contains(r.stdout, "cut: value") || !strings.Contains(r.stdout, fmt.Sprintf("%d dead letters in %s.dlq matching the filter", n+1, s.location)) {
		t.Fatalf("dlq list --kind handler: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// One partition: show takes a bare offset.
	r = run(t, nil, "dlq", "show", s.location, fmt.Sprint(bigOffset), "--format", "human")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "refused (cut)") || !strings.Contains(r.stdout, "kafka_dlt-truncated") ||
		!strings.Contains(r.stdout, "Value (not an event") {
		t.Fatalf("dlq show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, nil, "dlq", "redrive", s.location, "--kind", "handler", "--format", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("dlq redrive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	counts, summary := outcomes(t, r.stdout)
	if counts["redriven"] != n || counts["refused"] != 1 || summary["redriven"] != float64(n) || summary["skipped"] != float64(1) ||
		summary["refused"] != float64(1) || summary["failed"] != float64(0) {
		t.Fatalf("dlq redrive --kind handler: %v, summary %v", counts, summary)
	}
	s.sync(t)
	for i, id := range ids {
		if c := s.count(id); c != 1 {
			t.Errorf("event %d handled %d times after the redrive, want 1", i, c)
		}
	}

	// A second redrive, from the start: refused, with the reason.
	r = run(t, nil, "dlq", "redrive", s.location, "--kind", "handler", "--restart", "--format", "human")
	if r.code != cli.ExitOK || strings.Count(r.stdout, "already_redriven: redriven to") != n ||
		!strings.Contains(r.stdout, "0 redriven, 1 skipped, 5 refused, 0 failed") {
		t.Fatalf("second dlq redrive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Everything: the undecodable one is refused too.
	r = run(t, nil, "dlq", "redrive", s.location, "--format", "json")
	counts, summary = outcomes(t, r.stdout)
	refusals := summary["refusals"].(map[string]any)
	if r.code != cli.ExitOK || counts["refused"] != n+2 || refusals[core.RefusedUndecodable] != float64(1) || refusals[core.RefusedCut] != float64(1) {
		t.Fatalf("dlq redrive of all: exit %d, %v, refusals %v", r.code, counts, refusals)
	}
	s.sync(t)
	for i, id := range ids {
		if c := s.count(id); c != 1 {
			t.Errorf("event %d handled %d times after the refused redrives, want 1", i, c)
		}
	}
	// A topic that does not exist: the sends fail, exit 1.
	missing := kafkatest.Name(t, "missing")
	r = run(t, nil, "dlq", "redrive", s.location, "--kind", "handler", "--to", missing, "--allow-to", missing, "--force", "--format", "json")
	counts, _ = outcomes(t, r.stdout)
	if r.code != cli.ExitError || counts["failed"] != n || !strings.Contains(r.stderr, "4 dead letters could not be sent") {
		t.Fatalf("dlq redrive --to a missing topic: exit %d, %v\n%s", r.code, counts, r.stderr)
	}
}

// rawProduce writes a record with a plain producer.
func rawProduce(t *testing.T, topic, key, value string) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key: []byte(key), Value: []byte(value)}, dr); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-dr:
		if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery report")
	}
}

// TestDLQWorkedExample runs the README's worked example (section "Dead
// letters") against the examples' worker.
func TestDLQWorkedExample(t *testing.T) {
	location := kafkatest.Name(t, "gin-example-worker")
	startManagerAt(t, core.Config{BootstrapServers: kafkatest.Bootstrap(t), Location: location, Kafka: kafkatest.ClientProps()}, worker.Router(location))
	c := newCmd(t, nil)
	ctx := kafkatest.Context(t, 2*time.Minute)
	step := func(want int, args ...string) result {
		t.Helper()
		c.stdout, c.stderr = newOutput(), newOutput()
		r := c.run(ctx, args...)
		if r.code != want {
			t.Fatalf("kafka-broker %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	// No handler is bound to greeter.wave: the worker dead-letters it.
	p := step(cli.ExitOK, "produce", location, "greeter.wave", "--data", `{"name":"Ada"}`, "--format", "json")
	var ev core.EventObject
	if err := json.Unmarshal([]byte(p.stdout), &ev); err != nil {
		t.Fatal(err)
	}
	// Data that fails the handler's validation: the worker dead-letters it too.
	step(cli.ExitOK, "produce", location, "greeter.hello", "--data", `{"name":""}`)
	var pos string
	for pos == "" {
		r := step(cli.ExitOK, "dlq", "list", location, "--format", "json")
		lines := jsonObjects(t, r.stdout)
		for _, l := range lines {
			if l["kind"] == core.DeadLetterNoRoute && len(lines) == 2 {
				pos = fmt.Sprintf("%v/%v", l["partition"], l["offset"])
			}
		}
		if pos == "" {
			time.Sleep(20 * time.Millisecond) // the worker has not dead-lettered both yet
		}
	}
	r := step(cli.ExitOK, "dlq", "list", location, "--format", "human")
	if !strings.Contains(r.stdout, "no_route  greeter.wave") || !strings.Contains(r.stdout, ev.CorrelationID) ||
		!strings.Contains(r.stdout, "invalid   greeter.hello") {
		t.Fatalf("dlq list:\n%s", r.stdout)
	}
	r = step(cli.ExitOK, "dlq", "show", location, pos, "--format", "human")
	if !strings.Contains(r.stdout, "kind           no_route") || !strings.Contains(r.stdout, `"name": "Ada"`) {
		t.Fatalf("dlq show:\n%s", r.stdout)
	}
	r = step(cli.ExitOK, "dlq", "redrive", location, "--kind", "no_route", "--dry-run", "--format", "human")
	if !strings.Contains(r.stdout, "dry run: 1 would be redriven") {
		t.Fatalf("dlq redrive --dry-run:\n%s", r.stdout)
	}
	r = step(cli.ExitOK, "dlq", "redrive", location, "--kind", "no_route", "--format", "human")
	if !strings.Contains(r.stdout, "1 redriven, 1 skipped, 0 refused, 0 failed") {
		t.Fatalf("dlq redrive:\n%s", r.stdout)
	}
	// Still no route: it comes back, counted; the first one is marked redriven.
	var back []map[string]any
	for len(back) < 2 {
		back = jsonObjects(t, step(cli.ExitOK, "dlq", "list", location, "--correlation-id", ev.CorrelationID, "--format", "json").stdout)
	}
	if back[0]["redriven"] == nil || back[1]["redrive_count"] != float64(1) {
		t.Fatalf("after the redrive: %v", back)
	}
	r = step(cli.ExitOK, "dlq", "list", location, "--kind", "no_route", "--format", "human")
	if !strings.Contains(r.stdout, "redriven") || !strings.Contains(r.stdout, "ok (1 redrive before)") {
		t.Fatalf("dlq list --kind no_route after the redrive:\n%s", r.stdout)
	}
	r = step(cli.ExitOK, "dlq", "redrive", location, "--kind", "no_route", "--restart", "--max-redrives", "1", "--format", "human")
	if !strings.Contains(r.stdout, "already_redriven") || !strings.Contains(r.stdout, "max_redrives") ||
		!strings.Contains(r.stdout, "0 redriven, 1 skipped, 2 refused") {
		t.Fatalf("dlq redrive --restart --max-redrives 1:\n%s", r.stdout)
	}
}

// Bad input is refused with exit 2 before any broker is contacted (the one
// given is unreachable, which would be exit 1).
func TestDLQUsageErrors(t *testing.T) {
	vars := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": kafkatest.ClosedAddr(t)}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq"}, "Usage: kafka-broker dlq"},
		{[]string{"dlq", "peek", "orders"}, `unknown command "peek"`},
		{[]string{"dlq", "list"}, "missing arguments"},
		{[]string{"dlq", "list", "bad topic"}, "invalid topic name"},
		{[]string{"dlq", "list", "orders", "--since", "yesterday"}, `--since: "yesterday" is neither a time`},
		{[]string{"dlq", "list", "orders", "--since", "1h", "--until", "2h"}, "is not before until"},
		{[]string{"dlq", "list", "orders", "--event", "order..x"}, "empty segment"},
		{[]string{"dlq", "show", "orders", "0/x"}, "invalid position"},
		{[]string{"dlq", "show", "orders", "0/-1"}, "invalid position"},
		{[]string{"dlq", "redrive", "orders", "--to", "other"}, "add --allow-to other"},
		{[]string{"dlq", "redrive", "orders", "--max-redrives", "0"}, "--max-redrives must be at least 1"},
		{[]string{"dlq", "redrive", "orders", "--topic", "a b"}, "--topic"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, vars, tt.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want 2 and %q; stderr:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
	r := run(t, vars, "dlq", "list", "orders")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "cannot reach Kafka") {
		t.Fatalf("unreachable broker: exit %d\n%s", r.code, r.stderr)
	}
	// KAFKA_REDRIVE_ALLOW_LIST allows --to: the command gets as far as the broker.
	vars["KAFKA_REDRIVE_ALLOW_LIST"] = "audit, other*"
	r = run(t, vars, "dlq", "redrive", "orders", "--to", "other-orders")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "cannot reach Kafka") {
		t.Fatalf("--to allowed by KAFKA_REDRIVE_ALLOW_LIST: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, nil, "dlq", "list", kafkatest.Name(t, "nobody"))
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("missing topic: exit %d\n%s", r.code, r.stderr)
	}
	r = run(t, nil, "dlq", "--help")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "redrive") {
		t.Fatalf("dlq --help: exit %d\n%s", r.code, r.stdout)
	}
	for _, sub := range []string{"list", "show", "redrive"} {
		r = run(t, nil, "dlq", sub, "--help")
		if r.code != cli.ExitOK || !strings.Contains(r.stdout, "Usage: kafka-broker dlq "+sub) || !strings.Contains(r.stdout, "Exit status") {
			t.Fatalf("dlq %s --help: exit %d\n%s", sub, r.code, r.stdout)
		}
	}
}

// An interrupted redrive (ctx cancelled, as Ctrl-C does) exits 130 and the
// same command resumes: every event handled once.
func TestDLQRedriveInterrupted(t *testing.T) {
	s := startService(t, nil)
	s.broken.Store(true)
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, s.produce(t, "order.created", map[string]any{"fail": true}))
	}
	s.waitDeadLettered(t, uint64(len(ids)))
	s.broken.Store(false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCmd(t, nil)
	done := make(chan result, 1)
	go func() { done <- c.run(ctx, "dlq", "redrive", s.location, "--batch", "2", "--format", "json") }()
	c.stdout.waitFor(t, `"status":"redriven"`)
	cancel()
	r1 := <-done
	c2 := newCmd(t, nil)
	r2 := c2.run(kafkatest.Context(t, 2*time.Minute), "dlq", "redrive", s.location, "--batch", "2", "--format", "json")
	if r2.code != cli.ExitOK {
		t.Fatalf("the resumed run: exit %d\n%s", r2.code, r2.stderr)
	}
	first, _ := outcomes(t, r1.stdout)
	second, summary := outcomes(t, r2.stdout)
	t.Logf("the interrupted run (exit %d) redrove %d, the resumed one %d", r1.code, first["redriven"], second["redriven"])
	if interrupted := r1.code == cli.ExitInterrupted; interrupted != (first["redriven"] < len(ids)) {
		t.Fatalf("interrupted run: exit %d with %d of %d redriven\n%s", r1.code, first["redriven"], len(ids), r1.stderr)
	}
	if first["redriven"]+second["redriven"] != len(ids) || second["refused"] != 0 || summary["resumed"] != true {
		t.Fatalf("redriven %d then %d (refused %d, resumed %v), want %d in all", first["redriven"], second["redriven"],
			second["refused"], summary["resumed"], len(ids))
	}
	s.sync(t)
	for i, id := range ids {
		if c := s.count(id); c != 1 {
			t.Errorf("event %d handled %d times, want 1", i, c)
		}
	}
}

// TestDLQRedriveProcessKilled SIGKILLs a `kafka-broker dlq redrive` process
// in the middle of a transaction (its records are on the broker, not yet
// committed) and runs the same command again: every event is handled
// exactly once by the service (a read_committed consumer), and the second
// run refuses nothing (it resumed where the committed transactions of the
// first left off).
func TestDLQRedriveProcessKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kafka-broker command")
	}
	bin := filepath.Join(t.TempDir(), "kafka-broker")
	build := exec.Command("go", "build", "-o", bin, "github.com/kafka-broker/kafka-broker-go/cmd/kafka-broker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s := startService(t, nil)
	s.broken.Store(true)
	var ids []string
	for i := 0; i < 400; i++ {
		ids = append(ids, s.produce(t, "order.created", map[string]any{"fail": true}))
	}
	s.waitDeadLettered(t, uint64(len(ids)))
	s.broken.Store(false)
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	args := []string{"dlq", "redrive", s.location, "--kind", "handler", "--batch", "50", "--format", "json"}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KAFKA_BOOTSTRAP_SERVERS="+kafkatest.Bootstrap(t))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed atomic.Int64 // redriven entries the process printed
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"status":"redriven"`) {
				printed.Add(1)
			}
		}
		exited <- cmd.Wait()
	}()
	// Once a batch is committed, wait for the next transaction: it is open
	// with records on the broker while the Location's last stable offset is
	// behind its end. Stop the process then, check again, and kill it.
	midTxn := false
	for !midTxn {
		select {
		case err := <-exited:
			t.Logf("the redrive ended (%v) before a transaction was caught open", err)
		default:
			if printed.Load() > 0 && open(t, a, s.location) {
				_ = cmd.Process.Signal(syscall.SIGSTOP)
				// A commit the process sent before it stopped may still land.
				time.Sleep(200 * time.Millisecond)
				if midTxn = open(t, a, s.location); !midTxn {
					_ = cmd.Process.Signal(syscall.SIGCONT)
				}
				continue
			}
			time.Sleep(time.Millisecond) // no signal from another process but the broker's offsets
			continue
		}
		break
	}
	if midTxn {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed with a transaction open after it printed %d redriven entries: %v", printed.Load(), <-exited)
	}

	r := run(t, nil, args...)
	if r.code != cli.ExitOK {
		t.Fatalf("the run after the kill: exit %d\n%s", r.code, r.stderr)
	}
	counts, summary := outcomes(t, r.stdout)
	if counts["refused"] != 0 || counts["failed"] != 0 || (midTxn && (summary["resumed"] != true || counts["redriven"] > len(ids)-int(printed.Load()))) {
		t.Fatalf("the run after the kill: %v, resumed %v", counts, summary["resumed"])
	}
	s.sync(t)
	for i, id := range ids {
		if c := s.count(id); c != 1 {
			t.Errorf("event %d handled %d times, want exactly 1", i, c)
		}
	}
	uncommitted := redrivenRecords(t, s.location)
	t.Logf("the run after the kill redrove %d of %d; a read_uncommitted reader sees %d redriven records, the aborted ones included",
		counts["redriven"], len(ids), uncommitted)
	if midTxn && uncommitted <= len(ids) {
		t.Errorf("a read_uncommitted reader sees %d redriven records; the transaction the kill interrupted had some on the broker", uncommitted)
	}
}

// open reports whether a transaction is open on partition 0 of topic: its
// last stable offset is behind its end.
func open(t *testing.T, a *kafka.AdminClient, topic string) bool {
	t.Helper()
	offset := func(level kafka.IsolationLevel) int64 {
		tp := kafka.TopicPartition{Topic: &topic, Partition: 0}
		res, err := a.ListOffsets(kafkatest.Context(t, 30*time.Second),
			map[kafka.TopicPartition]kafka.OffsetSpec{tp: kafka.LatestOffsetSpec}, kafka.SetAdminIsolationLevel(level))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.ResultInfos {
			if r.Error.Code() != kafka.ErrNoError {
				t.Fatal(r.Error)
			}
			return int64(r.Offset)
		}
		t.Fatal("ListOffsets: no result")
		return 0
	}
	lso := offset(kafka.IsolationLevelReadCommitted)
	return lso < offset(kafka.IsolationLevelReadUncommitted)
}

// redrivenRecords counts the redriven records on topic (partition 0) as a
// read_uncommitted consumer sees them: those of aborted transactions too.
func redrivenRecords(t *testing.T, topic string) int {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.ClientConfig(t, kafka.ConfigMap{"group.id": kafkatest.Name(t, "reader"),
		"isolation.level": "read_uncommitted", "enable.partition.eof": true, "enable.auto.commit": false}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			for _, h := range e.Headers {
				if h.Key == core.HeaderDLTRedriveCount {
					n++
				}
			}
		case kafka.PartitionEOF:
			return n
		}
	}
	t.Fatalf("did not reach the end of %s within a minute", topic)
	return 0
}
