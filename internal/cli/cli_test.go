package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Usage:", "dev", "request", "produce", "tail"}},
		{[]string{"help", "tail"}, []string{"Usage: kafka-broker tail"}},
		{[]string{"dev", "--help"}, []string{"Usage: kafka-broker dev", "--port", "--partitions", "in memory only", "Ctrl-C"}},
		{[]string{"request", "-h"}, []string{
			"Usage: kafka-broker request <topic> <event>", "--data", "--timeout", "--location", "--group-id",
			"--reply-topic", "--bootstrap-servers", "--connect-timeout", "-X", "--verbose",
			"KAFKA_LOCATION", "KAFKA_REQUEST_TIMEOUT", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PROP_<NAME>",
			"kafka-broker-cli-<random>", "Exit status", "3    no reply within --timeout",
		}},
		{[]string{"produce", "--help"}, []string{
			"Usage: kafka-broker produce <topic> <event>", "--data", "--format", "--correlation-id",
			"--location", "KAFKA_LOCATION", "KAFKA_SASL_USERNAME", "Exit status",
		}},
		{[]string{"tail", "--help"}, []string{
			"Usage: kafka-broker tail <topic>...", "--from-beginning", "--event", "--max-events", "--format",
			`"*" matches exactly one segment`, "KAFKA_BOOTSTRAP_SERVERS", "Exit status",
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestUsageErrors checks that bad input is refused with exit 2 before any
// broker is contacted: the broker given is unreachable, which would be exit 1.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"id": 1,}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", nil, []string{"consume"}, `unknown command "consume"`},
		{"unknown flag", nil, []string{"request", "orders", "order.get", "--bogus"}, "flag provided but not defined: -bogus"},
		{"unknown flag before args", nil, []string{"tail", "--nope", "orders"}, "flag provided but not defined: -nope"},
		{"missing args", nil, []string{"request", "orders"}, "missing arguments"},
		{"too many args", nil, []string{"produce", "orders", "a", "b"}, "too many arguments"},
		{"invalid JSON", nil, []string{"request", "orders", "order.get", "--data", `{"id":`}, "invalid JSON in --data"},
		{"invalid JSON produce", nil, []string{"produce", "orders", "order.new", "--data", "{id: 1}"}, "invalid JSON in --data"},
		{"invalid JSON file", nil, []string{"produce", "orders", "order.new", "--data", "@" + badFile}, "invalid JSON in " + badFile},
		{"missing data file", nil, []string{"request", "orders", "order.get", "--data", "@" + filepath.Join(dir, "nope.json")}, "no such file"},
		{"bad timeout", nil, []string{"request", "orders", "order.get", "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{"negative timeout", nil, []string{"request", "orders", "order.get", "--timeout", "-1s"}, "--timeout must be positive"},
		{"bad env timeout", map[string]string{"KAFKA_REQUEST_TIMEOUT": "soon"}, []string{"request", "orders", "order.get"}, "KAFKA_REQUEST_TIMEOUT"},
		{"bad topic", nil, []string{"request", "my orders", "order.get"}, `invalid topic name "my orders"`},
		{"bad event", nil, []string{"produce", "orders", "order..get"}, "empty segment"},
		{"bad location", map[string]string{"KAFKA_LOCATION": "not/valid"}, []string{"request", "orders", "order.get"}, "--location"},
		{"bad pattern", nil, []string{"tail", "orders", "--event", "order."}, `--event "order."`},
		{"bad format", nil, []string{"tail", "orders", "--format", "xml"}, "want auto, human or json"},
		{"bad property", nil, []string{"tail", "orders", "-X", "novalue"}, "want key=value"},
		{"bad port", nil, []string{"dev", "--port", "70000"}, "not a port"},
		{"dev args", nil, []string{"dev", "extra"}, "too many arguments"},
	}
	unreachable := kafkatest.ClosedAddr(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": unreachable}
			for k, v := range tt.vars {
				vars[k] = v
			}
			r := run(t, vars, tt.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d", r.code, cli.ExitUsage)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
		})
	}
}

func TestUnreachableBroker(t *testing.T) {
	addr := kafkatest.ClosedAddr(t)
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"request flag", nil, []string{"request", "orders", "order.get", "--bootstrap-servers", addr}},
		{"request env", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"request", "orders", "order.get"}},
		{"produce", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"produce", "orders", "order.new"}},
		{"tail", map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr}, []string{"tail", "orders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := run(t, tt.vars, tt.args...)
			if r.code != cli.ExitError {
				t.Errorf("exit %d, want %d", r.code, cli.ExitError)
			}
			for _, w := range []string{"cannot reach Kafka at " + addr, "kafka-broker dev"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v to report a refused connection", d)
			}
		})
	}
}

// jsonLines decodes one EventObject per line.
func jsonLines(t *testing.T, s string) []*core.EventObject {
	t.Helper()
	var evs []*core.EventObject
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		ev := new(core.EventObject)
		if err := json.Unmarshal([]byte(line), ev); err != nil {
			t.Fatalf("not a JSON event line: %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestProduceAndTail(t *testing.T) {
	topic := kafkatest.Name(t, "orders")
	loc := kafkatest.Name(t, "cli")
	vars := map[string]string{"KAFKA_LOCATION": loc}
	// The topic must exist before tail starts; this event is before tail's start.
	if r := run(t, vars, "produce", topic, "seed.event"); r.code != 0 {
		t.Fatalf("produce seed: exit %d\n%s", r.code, r.stderr)
	}

	tailCmd := newCmd(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- tailCmd.run(ctx, "tail", topic, "--event", "order.*", "--max-events", "2")
	}()
	tailCmd.stderr.waitFor(t, "Ctrl-C stops")

	var sent []*core.EventObject
	for _, e := range []struct{ event, data string }{
		{"order.created", `{"id":1}`},
		{"user.created", `{"id":2}`},
		{"order.item.added", `{"id":3}`},
		{"order.paid", `{"id":4}`},
	} {
		r := run(t, vars, "produce", topic, e.event, "--data", e.data)
		if r.code != 0 {
			t.Fatalf("produce %s: exit %d\n%s", e.event, r.code, r.stderr)
		}
		evs := jsonLines(t, r.stdout)
		if len(evs) != 1 || evs[0].Event != e.event {
			t.Fatalf("produce printed %q", r.stdout)
		}
		sent = append(sent, evs[0])
	}

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("tail did not stop after 2 events; stdout:\n%s", tailCmd.stdout.String())
	}
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	got := jsonLines(t, r.stdout)
	if len(got) != 2 {
		t.Fatalf("tail printed %d events, want 2:\n%s", len(got), r.stdout)
	}
	// Partitions are read concurrently: compare as a set.
	want := map[string]string{sent[0].CorrelationID: "order.created", sent[3].CorrelationID: "order.paid"}
	for _, ev := range got {
		if want[ev.CorrelationID] != ev.Event {
			t.Errorf("tail printed %s %s, want only order.created and order.paid", ev.Event, ev.CorrelationID)
		}
		if len(ev.AuditLog) != 1 || ev.AuditLog[0].Location != loc || ev.AuditLog[0].TimeSent == 0 {
			t.Errorf("audit trail %+v, want one hop from %s", ev.AuditLog, loc)
		}
	}
	if sent[0].AuditLog[0].Location != loc {
		t.Errorf("produce printed trail %+v", sent[0].AuditLog)
	}
}

func TestTailFromBeginningHuman(t *testing.T) {
	topic := kafkatest.Name(t, "orders")
	p := run(t, nil, "produce", topic, "order.shipped", "--data", `{"id": 9}`, "--format", "human",
		"--correlation-id", "cid-123")
	if p.code != 0 {
		t.Fatalf("produce: exit %d\n%s", p.code, p.stderr)
	}
	if want := "→ " + topic + " order.shipped pending id=cid-123 data={\"id\":9} trail: kafka-broker-cli "; !strings.Contains(p.stdout, want) {
		t.Errorf("produce printed %q, want it to contain %q", p.stdout, want)
	}
	r := run(t, nil, "tail", topic, "--from-beginning", "--max-events", "1", "--format", "human")
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} ` + regexp.QuoteMeta(topic) +
		`/\d+@0 order\.shipped pending id=cid-123 data=\{"id":9\} trail: kafka-broker-cli \d\d:\d\d:\d\d\n$`)
	if !line.MatchString(r.stdout) {
		t.Errorf("tail printed %q, want a line matching %s", r.stdout, line)
	}
	if !strings.Contains(r.stderr, "from the beginning") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestTailMissingTopic(t *testing.T) {
	topic := kafkatest.Name(t, "missing")
	r := run(t, nil, "tail", topic)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("exit %d, stderr %q; want 1 and 'does not exist'", r.code, r.stderr)
	}
}

func TestTailReportsNonEvents(t *testing.T) {
	topic := kafkatest.Name(t, "mixed")
	if r := run(t, nil, "produce", topic, "first.event"); r.code != 0 {
		t.Fatalf("produce: %d %s", r.code, r.stderr)
	}
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"log_level": 0}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The bad record and then an event, both on partition 0: tail meets the
	// bad record before it can print its second event.
	second, _ := core.NewEventObject("second.event", nil)
	secondJSON, err := second.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	deliveries := make(chan kafka.Event, 1)
	for _, v := range [][]byte{[]byte("not json"), secondJSON} {
		if err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
			Value:          v,
		}, deliveries); err != nil {
			t.Fatal(err)
		}
		if m := (<-deliveries).(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	}
	r := run(t, nil, "tail", topic, "--from-beginning", "--max-events", "2")
	if r.code != 0 {
		t.Fatalf("tail: exit %d\n%s", r.code, r.stderr)
	}
	if evs := jsonLines(t, r.stdout); len(evs) != 2 {
		t.Errorf("printed %d events, want 2", len(evs))
	}
	if !strings.Contains(r.stderr, "is not an event: not valid JSON") {
		t.Errorf("stderr lacks the skipped record:\n%s", r.stderr)
	}
}

// mathRouter doubles "math.double" requests and ignores "math.ignore".
func mathRouter() *core.EventRouter {
	r := core.NewEventRouter("math")
	r.BindEvent("double", func(ctx context.Context, ev *core.EventObject) error {
		var in struct{ N int }
		if err := ev.Decode(&in); err != nil {
			return core.Permanent(err)
		}
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]int{"n": 2 * in.N})
	})
	r.BindEvent("ignore", func(context.Context, *core.EventObject) error { return nil })
	return r
}

func TestRequest(t *testing.T) {
	svc := startResponder(t, mathRouter())
	file := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(file, []byte(`{"n": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		data  string
		want  int
	}{
		{"inline", "", `{"n":21}`, 42},
		{"file", "", "@" + file, 10},
		{"stdin", `{"n": 4}`, "@-", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCmd(t, nil)
			c.stdin = tt.stdin
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r := c.run(ctx, "request", svc.Config().Location, "math.double", "--data", tt.data, "--timeout", "60s")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "{\n  \"correlation_id\": ") {
				t.Errorf("reply not printed as indented JSON:\n%s", r.stdout)
			}
			var reply core.EventObject
			if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
				t.Fatal(err)
			}
			var data struct{ N int }
			if err := reply.Decode(&data); err != nil || data.N != tt.want {
				t.Errorf("reply data %+v (%v), want n=%d", data, err, tt.want)
			}
			if reply.Status != core.StatusCompleted || len(reply.AuditLog) != 2 {
				t.Fatalf("reply %+v", reply)
			}
			loc := reply.AuditLog[0].Location
			if !strings.HasPrefix(loc, "kafka-broker-cli-") || reply.AuditLog[1].Location != svc.Config().Location {
				t.Errorf("audit trail %+v, want kafka-broker-cli-<random> then %s", reply.AuditLog, svc.Config().Location)
			}
			assertNoTopics(t, loc, loc+".replies")
		})
	}
}

// assertNoTopics fails when any of topics exists.
func assertNoTopics(t *testing.T, topics ...string) {
	t.Helper()
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	md, err := a.GetMetadata(nil, true, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		if tm, ok := md.Topics[topic]; ok && tm.Error.Code() == kafka.ErrNoError {
			t.Errorf("generated topic %s was not deleted", topic)
		}
	}
}

func TestRequestWithLocation(t *testing.T) {
	svc := startResponder(t, mathRouter())
	loc := kafkatest.Name(t, "cli")
	r := run(t, map[string]string{"KAFKA_LOCATION": loc}, "request", svc.Config().Location, "math.double",
		"--data", `{"n":1}`, "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var reply core.EventObject
	if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.AuditLog[0].Location != loc {
		t.Errorf("request sent from %q, want KAFKA_LOCATION %q", reply.AuditLog[0].Location, loc)
	}
}

func TestRequestTimeout(t *testing.T) {
	svc := startResponder(t, mathRouter())
	r := run(t, nil, "request", svc.Config().Location, "math.ignore", "--timeout", "1s")
	if r.code != cli.ExitTimeout {
		t.Fatalf("exit %d, want %d\n%s", r.code, cli.ExitTimeout, r.stderr)
	}
	if !strings.Contains(r.stderr, "no reply to math.ignore") || !strings.Contains(r.stderr, "within 1s") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
}

func TestRequestInterrupted(t *testing.T) {
	received := make(chan struct{})
	r := core.NewEventRouter("slow")
	r.BindEvent("op", func(context.Context, *core.EventObject) error {
		close(received)
		return nil // never replies
	})
	svc := startResponder(t, r)
	c := newCmd(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- c.run(ctx, "request", svc.Config().Location, "slow.op", "--timeout", "5m") }()
	select {
	case <-received:
	case res := <-done:
		t.Fatalf("request ended early: exit %d\n%s", res.code, res.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatal("the request never reached the responder")
	}
	cancel() // Ctrl-C
	res := <-done
	if res.code != cli.ExitInterrupted || !strings.Contains(res.stderr, "interrupted") {
		t.Fatalf("exit %d, stderr %q; want %d and 'interrupted'", res.code, res.stderr, cli.ExitInterrupted)
	}
}

func TestDev(t *testing.T) {
	c := newCmd(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- c.run(ctx, "dev", "--port", "0", "--partitions", "1") }()
	c.stdout.waitFor(t, "Ctrl-C stops the broker.")
	addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`).FindStringSubmatch(c.stdout.String())
	if addr == nil {
		t.Fatalf("no address in:\n%s", c.stdout.String())
	}
	if !strings.Contains(c.stdout.String(), "in memory only") {
		t.Errorf("dev does not say the data is in memory only:\n%s", c.stdout.String())
	}

	// Any Kafka client can use it: the other commands do.
	vars := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": addr[1]}
	if r := run(t, vars, "produce", "greetings", "hello.world", "--data", `{"to":"dev"}`); r.code != 0 {
		t.Fatalf("produce: exit %d\n%s", r.code, r.stderr)
	}
	r := run(t, vars, "tail", "greetings", "--from-beginning", "--max-events", "1")
	if evs := jsonLines(t, r.stdout); r.code != 0 || len(evs) != 1 || evs[0].Event != "hello.world" {
		t.Fatalf("tail: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "(1 partition)") {
		t.Errorf("--partitions 1 not applied: %s", r.stderr)
	}

	cancel() // Ctrl-C
	r = <-done
	if r.code != 0 || !strings.HasSuffix(r.stdout, "kafka-broker dev: stopped\n") {
		t.Fatalf("dev: exit %d, stdout %q", r.code, r.stdout)
	}
	if _, err := net.DialTimeout("tcp", addr[1], time.Second); err == nil {
		t.Error("the broker still accepts connections after stopping")
	}
}

func TestDevPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := run(t, nil, "dev", "--port", strconv.Itoa(port))
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "is in use") {
		t.Fatalf("exit %d, stderr %q; want 1 and 'is in use'", r.code, r.stderr)
	}
}
