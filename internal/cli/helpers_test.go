package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// output is a buffer safe for concurrent writes that can wait for text.
type output struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor blocks until the output contains s.
func (o *output) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		o.mu.Lock()
		ok, changed := strings.Contains(o.b.String(), s), o.changed
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("timed out waiting for %q in output:\n%s", s, o.String())
		}
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// cmd runs the CLI with an environment of its own: vars, plus the test
// broker as KAFKA_BOOTSTRAP_SERVERS with its client properties as
// KAFKA_PROP_<NAME> (the secured tier's credentials) unless vars names
// another broker.
type cmd struct {
	vars   map[string]string
	stdin  string
	stdout *output
	stderr *output
}

func newCmd(t *testing.T, vars map[string]string) *cmd {
	t.Helper()
	v := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": kafkatest.Bootstrap(t)}
	if _, other := vars["KAFKA_BOOTSTRAP_SERVERS"]; !other {
		for k, x := range kafkatest.ClientProps() {
			v["KAFKA_PROP_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = fmt.Sprint(x)
		}
	}
	for k, x := range vars {
		v[k] = x
	}
	return &cmd{vars: v, stdout: newOutput(), stderr: newOutput()}
}

func (c *cmd) env() cli.Env {
	return cli.Env{
		Stdin:  strings.NewReader(c.stdin),
		Stdout: c.stdout,
		Stderr: c.stderr,
		Getenv: func(k string) string { return c.vars[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range c.vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	}
}

func (c *cmd) run(ctx context.Context, args ...string) result {
	code := cli.Run(ctx, c.env(), args)
	return result{code, c.stdout.String(), c.stderr.String()}
}

// run runs args once with a fresh environment and a generous deadline.
func run(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return newCmd(t, vars).run(ctx, args...)
}

// startResponder runs a manager on a new Location whose root router includes
// r, closed at the end of the test.
func startResponder(t *testing.T, r *core.EventRouter) *core.Manager {
	t.Helper()
	return startResponderWith(t, r, nil)
}

// startResponderWith is startResponder with librdkafka properties.
func startResponderWith(t *testing.T, r *core.EventRouter, props map[string]any) *core.Manager {
	t.Helper()
	m := kafkatest.NewManager(t, core.Config{
		BootstrapServers: kafkatest.Bootstrap(t),
		Location:         kafkatest.Name(t, "svc"),
		Kafka:            mergeProps(kafkatest.ClientProps(), props),
	})
	root := core.NewEventRouter("svc")
	root.IncludeBinder(r)
	m.SetRouter(root)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
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

// assertNoGroup fails when the consumer group exists.
func assertNoGroup(t *testing.T, group string) {
	t.Helper()
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.ListConsumerGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range res.Valid {
		if g.GroupID == group {
			t.Errorf("consumer group %s exists", group)
		}
	}
}

// mergeProps returns the properties of base overridden by over.
func mergeProps(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
