package core_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// routed starts a manager whose router binds "job.<name>" handlers.
func routed(t *testing.T, cfg core.Config, handlers map[string]core.HandlerFunc) *core.Manager {
	t.Helper()
	r := core.NewEventRouter(cfg.Location)
	job := core.NewEventRouter("job")
	for name, h := range handlers {
		job.BindEvent(name, h)
	}
	r.IncludeBinder(job)
	return startRouted(t, cfg, r)
}

func produce(t *testing.T, m *core.Manager, topic, event string, data any) *core.EventObject {
	t.Helper()
	ev, err := core.NewEventObject(event, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Produce(kafkatest.Context(t, 30*time.Second), topic, ev); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	return ev
}

// produceTo produces an event with a unique payload.
func produceTo(t *testing.T, m *core.Manager, topic, event string) *core.EventObject {
	return produce(t, m, topic, event, map[string]string{"at": time.Now().String()})
}

// waitFor polls cond until it holds, for state that has no signal to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signalHandler is a slog.Handler that reports each record whose message is
// msg on ch (and drops the rest).
type signalHandler struct {
	msg string
	ch  chan<- struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h signalHandler) WithGroup(string) slog.Handler { return h }

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

// startResponderProc starts a responder on location and waits for READY;
// extra flags follow (see internal/faulttest/responder).
func startResponderProc(t *testing.T, bin, location, out string, extra ...string) *responderProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-brokers", kafkatest.Bootstrap(t), "-location", location, "-out", out}, extra...)...)
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

// replier is a service whose handler "ask" answers every request with Reply
// and counts its runs.
type replier struct {
	m     *core.Manager
	runs  atomic.Int32
	errs  chan error  // each Reply's error
	marks chan string // correlation IDs of "mark" events, handled without a reply
}

func startReplier(t *testing.T, cfg core.Config) *replier {
	t.Helper()
	s := &replier{errs: make(chan error, 64), marks: make(chan string, 8)}
	r := core.NewEventRouter("root")
	r.BindEvent("mark", func(_ context.Context, ev *core.EventObject) error { s.marks <- ev.CorrelationID; return nil })
	r.BindEvent("ask", func(ctx context.Context, ev *core.EventObject) error {
		s.runs.Add(1)
		m, _ := core.FromContext(ctx)
		err := m.Reply(ctx, ev, map[string]string{"answer": "42"})
		s.errs <- err
		return err
	})
	cfg.MaxAttempts = 1
	s.m = startRouted(t, cfg, r)
	return s
}

// request is an "ask" event whose audit log names auditLocation as its
// sender, encoded.
func request(t *testing.T, auditLocation string) (*core.EventObject, []byte) {
	t.Helper()
	ev := &core.EventObject{CorrelationID: kafkatest.Name(t, "cid"), Status: core.StatusPending, Event: "ask",
		Data: json.RawMessage(`{}`), AuditLog: []core.AuditEntry{{Location: auditLocation, Event: "ask", TimeSent: 1}}}
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return ev, b
}

func topicExists(t *testing.T, topic string) bool {
	t.Helper()
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.DescribeTopics(kafkatest.Context(t, 30*time.Second), kafka.NewTopicCollectionOfTopicNames([]string{topic}))
	if err != nil {
		t.Fatal(err)
	}
	return res.TopicDescriptions[0].Error.Code() == kafka.ErrNoError
}

func ptr[T any](v T) *T { return &v }

// readDeadLetter returns the dead letter keyed id, reading the whole topic.
func readKeyed(t *testing.T, topic, id string) *kafka.Message {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.ClientConfig(t, kafka.ConfigMap{"group.id": kafkatest.Name(t, "dlq"), "auto.offset.reset": "earliest", "enable.auto.commit": false}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m, ok := c.Poll(100).(*kafka.Message); ok && m.TopicPartition.Error == nil && string(m.Key) == id {
			return m
		}
	}
	t.Fatalf("no record keyed %s on %s", id, topic)
	return nil
}

// rawProduceLarge is rawProduce for records over librdkafka's default 1 MB.
func rawProduceLarge(t *testing.T, topic string, key, value []byte, headers ...kafka.Header) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"message.max.bytes": 8 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
		Key: key, Value: value, Headers: headers}, dr); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, dr, "the large record's delivery report").(*kafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
}

func kafkaHeader(key, value string) kafka.Header { return kafka.Header{Key: key, Value: []byte(value)} }

// newManager returns a manager closed at the end of the test.
func newManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	opts = append([]core.Option{core.WithLogger(kafkatest.Logger())}, opts...)
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// startManager returns a manager whose consumer runs.
func startManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	m := newManager(t, cfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

// rawProduce writes value to topic with a plain confluent-kafka-go producer.
func rawProduce(t testing.TB, topic string, key, value []byte, headers ...kafka.Header) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
		Key:            key, Value: value, Headers: headers,
	}, dr); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-dr:
		if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
			t.Fatal(m.TopicPartition.Error)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("raw produce: no delivery report")
	}
}

type rawRecord struct {
	partition  int32
	key, value []byte
}

// rawProduceAll writes recs in order with a plain producer and waits for all acks.
func rawProduceAll(t testing.TB, topic string, recs []rawRecord) {
	t.Helper()
	p, err := kafka.NewProducer(kafkatest.ClientConfig(t, kafka.ConfigMap{"enable.idempotence": true}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dr := make(chan kafka.Event, len(recs))
	for _, r := range recs {
		if err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: r.partition},
			Key:            r.key, Value: r.value,
		}, dr); err != nil {
			t.Fatal(err)
		}
	}
	for range recs {
		select {
		case e := <-dr:
			if m := e.(*kafka.Message); m.TopicPartition.Error != nil {
				t.Fatal(m.TopicPartition.Error)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("raw produce: missing delivery reports")
		}
	}
}

// startRouted returns a manager whose consumer runs with router r, set
// before the first record can arrive.
func startRouted(t testing.TB, cfg core.Config, r *core.EventRouter, opts ...core.Option) *core.Manager {
	t.Helper()
	m := newManager(t, cfg, opts...)
	m.SetRouter(r)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

// pendingRequest makes m send a Request to a topic nobody reads and returns
// its event once it waits for a reply; the Request's result comes on the
// channel.
func pendingRequest(t *testing.T, m *core.Manager) (*core.EventObject, <-chan error) {
	t.Helper()
	ev, _ := core.NewEventObject("ask.question", nil)
	errs := make(chan error, 1)
	before := m.Stats().Pending
	go func() {
		_, err := m.Request(kafkatest.Context(t, 60*time.Second), kafkatest.Topic(t, "nobody", 1), ev)
		errs <- err
	}()
	waitFor(t, func() bool { return m.Stats().Pending > before })
	return ev, errs
}

// pythonReply is the reply to req as a Python responder writes it: to the
// requester's Location, status completed, the responder's audit hop last.
func pythonReply(t *testing.T, requester string, req *core.EventObject) []byte {
	t.Helper()
	reply := &core.EventObject{CorrelationID: req.CorrelationID, Status: core.StatusCompleted, Event: req.Event,
		AuditLog: []core.AuditEntry{{Location: requester, Event: req.Event, TimeSent: 1}, {Location: "py-svc", Event: req.Event, TimeSent: 2}}}
	b, err := reply.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receive returns the next value from ch; the test fails when none comes
// within a minute, saying what it waited for.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("waited a minute for %s", what)
		panic("unreachable")
	}
}

// countKeys reads topic from the beginning with a consumer of isolation
// level isolation ("read_committed" or "read_uncommitted") and counts its
// records by key: until done(counts) holds and the consumer has reached the
// end of every partition as it was then, or timeout.
func countKeys(t *testing.T, topic, isolation string, timeout time.Duration, done func(map[string]int) bool) map[string]int {
	t.Helper()
	c, err := kafka.NewConsumer(kafkatest.ClientConfig(t, kafka.ConfigMap{
		"group.id":           kafkatest.Name(t, "count"),
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": false,
		"isolation.level":    isolation,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	deadline := time.Now().Add(timeout)
	var ends []kafka.TopicPartition // the ends to reach, once done
	for time.Now().Before(deadline) {
		if m, ok := c.Poll(100).(*kafka.Message); ok && m.TopicPartition.Error == nil {
			counts[string(m.Key)]++
		}
		if ends == nil && done(counts) {
			asg, err := c.Assignment()
			if err != nil || len(asg) == 0 {
				continue
			}
			for _, tp := range asg {
				_, high, err := c.QueryWatermarkOffsets(topic, tp.Partition, 10_000)
				if err != nil {
					t.Fatal(err)
				}
				ends = append(ends, kafka.TopicPartition{Topic: &topic, Partition: tp.Partition, Offset: kafka.Offset(high)})
			}
		}
		if ends != nil && reached(c, ends) {
			return counts
		}
	}
	t.Fatalf("reading %s (%s): not done within %v (%d keys read)", topic, isolation, timeout, len(counts))
	return nil
}

// reached reports whether c's position is at or past every end.
func reached(c *kafka.Consumer, ends []kafka.TopicPartition) bool {
	pos, err := c.Position(ends)
	if err != nil {
		return false
	}
	for i, p := range pos {
		if ends[i].Offset > 0 && p.Offset < ends[i].Offset {
			return false
		}
	}
	return true
}

// duplicates returns how many keys of want were counted more than once, and
// how many not at all.
func duplicates(counts map[string]int, want []string) (dups, missing int) {
	for _, k := range want {
		switch n := counts[k]; {
		case n == 0:
			missing++
		case n > 1:
			dups++
		}
	}
	return dups, missing
}
