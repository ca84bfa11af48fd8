package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// A commit the brokers do not confirm in time (the broker frozen while it
// runs) is in doubt: Commit says so (fetch.ErrInDoubt) instead of failing,
// and returns when its ctx ends, canceled or not (librdkafka sees only a
// deadline: the call goes on on a goroutine of its own); Abort is refused
// while it is (librdkafka allows no other transactional call until the
// commit is resumed, and the commit may still go through), and the next
// Commit, once the broker answers, resumes it: the record is committed
// once. Real Kafka only: freezing needs the broker's process.
func TestCommitInDoubtIsResumed(t *testing.T) {
	b, cfg := realBrokerConfig(t, "txn-doubt", "freezing needs the broker's process")
	name := cfg.Location
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	x := startedManager(ctx, t, cfg).txn
	send(ctx, t, x, name, "once")
	resume := pause(ctx, t, b)
	if err := commitCanceled(ctx, t, x); !errors.Is(err, fetch.ErrInDoubt) {
		t.Fatalf("Commit with the broker frozen: %v; want an error wrapping fetch.ErrInDoubt", err)
	}
	if err := x.Abort(ctx); err == nil {
		t.Fatal("Abort succeeded while a commit was in doubt")
	}
	// Calls at the very end of their deadlines (a checkpoint's can be) stay
	// in doubt: librdkafka posts the result of a step it was not awaited
	// for later, and a next call must not take it for one of its own (a
	// commit reported done while the brokers have not confirmed it, then
	// the process aborted by librdkafka's "Invalid transaction state
	// transition").
	for i := range 2000 {
		tiny, cancelTiny := context.WithTimeout(ctx, time.Duration(i%20)*100*time.Microsecond)
		err := x.Commit(tiny, nil)
		cancelTiny()
		if !errors.Is(err, fetch.ErrInDoubt) {
			t.Fatalf("Commit %d with the broker frozen and %s to go: %v; want an error wrapping fetch.ErrInDoubt",
				i, time.Duration(i%20)*100*time.Microsecond, err)
		}
	}
	resume()
	if err := x.Commit(ctx, nil); err != nil {
		t.Fatalf("resumed Commit: %v", err)
	}
	if got := commitEnd(ctx, t, x, cfg, name); len(got) != 2 || got[0] != "once" {
		t.Fatalf("read_committed sees %q, want the record once, then the end", got)
	}
}

// Close with a commit in doubt returns by its ctx; the producer is
// released once librdkafka returned from the commit (the broker answers),
// and the commit went through: nothing is lost.
func TestCloseWithCommitInDoubt(t *testing.T) {
	b, cfg := realBrokerConfig(t, "txn-close-doubt", "freezing needs the broker's process")
	name := cfg.Location
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m := startedManager(ctx, t, cfg)
	x := m.txn
	send(ctx, t, x, name, "once")
	resume := pause(ctx, t, b)
	if err := commitCanceled(ctx, t, x); !errors.Is(err, fetch.ErrInDoubt) {
		t.Fatalf("Commit with the broker frozen: %v; want an error wrapping fetch.ErrInDoubt", err)
	}
	const within = 2 * time.Second
	closeCtx, cancelClose := context.WithTimeout(ctx, within)
	defer cancelClose()
	start := time.Now()
	_ = m.Close(closeCtx)
	if took := time.Since(start); took > within+3*time.Second {
		t.Fatalf("Close(ctx of %s) with a commit in doubt took %s", within, took)
	}
	select {
	case <-x.Released():
		t.Fatal("the producer was released while librdkafka was still in its commit")
	default:
	}
	resume()
	select {
	case <-x.Released():
	case <-ctx.Done():
		t.Fatal("the producer was not released after the commit returned")
	}
	p, err := kafka.NewProducer(testClientConf(cfg, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0}, Value: []byte("end")}, nil); err != nil {
		t.Fatal(err)
	}
	p.Flush(10_000)
	if got := readCommitted(ctx, t, cfg, name); len(got) != 2 || got[0] != "once" {
		t.Fatalf("read_committed sees %q, want the record committed in the background, then the end", got)
	}
}

// commitEnd commits a last transaction holding "end" and returns what a
// read_committed consumer of topic's partition 0 sees, up to it.
func commitEnd(ctx context.Context, t *testing.T, x *transactor, cfg Config, topic string) []string {
	t.Helper()
	send(ctx, t, x, topic, "end")
	if err := x.Commit(ctx, nil); err != nil {
		t.Fatalf("Commit of the end: %v", err)
	}
	return readCommitted(ctx, t, cfg, topic)
}

// send sends v to topic's partition 0 in x's open transaction.
func send(ctx context.Context, t *testing.T, x *transactor, topic, v string) {
	t.Helper()
	if err := x.sender().send(ctx, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
		Value: []byte(v)}); err != nil {
		t.Fatalf("send %s: %v", v, err)
	}
}

// pause freezes the broker (SIGSTOP) until the returned resume is called,
// or the test ends.
func pause(ctx context.Context, t *testing.T, b *realkafka.Broker) (resume func()) {
	t.Helper()
	if err := b.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = b.Resume(context.Background())
		}
	})
	return func() {
		t.Helper()
		if err := b.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		resumed = true
	}
}

// commitCanceled calls x.Commit with a ctx whose deadline is far (a
// minute) but that is canceled after a second, and fails the test unless
// Commit returned soon after the cancellation.
func commitCanceled(ctx context.Context, t *testing.T, x *transactor) error {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stop := time.AfterFunc(time.Second, cancel) // the cancellation the scenario is about, not a synchronisation
	defer stop.Stop()
	start := time.Now()
	err := x.Commit(cctx, nil)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Commit with a ctx canceled after 1s returned after %s", took)
	}
	return err
}

// A transaction left open longer than its timeout (the broker or the way
// to it stalled) is aborted by the brokers, which fence its producer: that
// is no other instance's doing, so the transactor is not dead (no
// fetch.ErrFatal); the next Abort replaces the producer, and transactions
// go on under the same transactional ID. What the expired one held is not
// seen by read_committed consumers.
func TestExpiredTransactionRenewsProducer(t *testing.T) {
	_, cfg := realBrokerConfig(t, "txn-expired", "kfake does not expire transactions")
	cfg.TransactionTimeout = 2 * time.Second
	name := cfg.Location
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	x := startedManager(ctx, t, cfg).txn
	send(ctx, t, x, name, "expired")
	waitStable(ctx, t, cfg, name) // the brokers aborted the open transaction
	err := x.Commit(ctx, nil)
	if err == nil || errors.Is(err, fetch.ErrFatal) {
		t.Fatalf("Commit of the expired transaction: %v; want an error, not fetch.ErrFatal", err)
	}
	t.Logf("commit of the expired transaction: %v", err)
	if err := x.Abort(ctx); err != nil {
		t.Fatalf("Abort (renewing the producer): %v", err)
	}
	send(ctx, t, x, name, "after")
	if err := x.Commit(ctx, nil); err != nil {
		t.Fatalf("Commit after the renewal: %v", err)
	}
	if got := commitEnd(ctx, t, x, cfg, name); len(got) != 2 || got[0] != "after" {
		t.Fatalf("read_committed sees %q, want after, end", got)
	}
}

// waitStable waits until nothing is pending on topic's partition 0: its
// last stable offset (the end a read_committed consumer sees) reached the
// end of its log, past a first record (a commit or abort marker written).
func waitStable(ctx context.Context, t *testing.T, cfg Config, topic string) {
	t.Helper()
	end := func(isolation string) int64 {
		c, err := kafka.NewConsumer(testClientConf(cfg, kafka.ConfigMap{"group.id": topic + ".watch",
			"isolation.level": isolation}))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		_, high, err := c.QueryWatermarkOffsets(topic, 0, 5000)
		if err != nil {
			t.Fatal(err)
		}
		return high
	}
	for ctx.Err() == nil {
		stable, last := end("read_committed"), end("read_uncommitted")
		if stable == last && last > 1 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // polling the brokers: no signal to wait on
		}
	}
	t.Fatalf("%s: a transaction still open: %v", topic, ctx.Err())
}

// realBrokerConfig is the Config of the real broker's environment
// (KAFKA_BOOTSTRAP_SERVERS and, on a secured one, KAFKA_PROP_*) for a
// transactional Manager on a topic of its own; it skips the test without
// the real broker's script.
func realBrokerConfig(t *testing.T, prefix, why string) (*realkafka.Broker, Config) {
	t.Helper()
	b, ok := realkafka.FromEnv()
	if !ok || os.Getenv("KAFKA_BOOTSTRAP_SERVERS") == "" {
		t.Skip("needs the real broker of make test-kafka (KAFKA_SCRIPT): " + why)
	}
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	t.Setenv("KAFKA_LOCATION", name)
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Location, cfg.GroupID, cfg.TransactionalID, cfg.Transactional = name, name, name, true
	return b, cfg
}

// testClientConf is cfg's librdkafka settings with extra ones.
func testClientConf(cfg Config, extra kafka.ConfigMap) *kafka.ConfigMap {
	m := kafka.ConfigMap{"bootstrap.servers": cfg.BootstrapServers}
	for k, v := range cfg.Kafka {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return &m
}

// startedManager creates cfg's topic (Location) and a Manager, closed at
// the end of the test, and starts its transactor (no consumer).
func startedManager(ctx context.Context, t *testing.T, cfg Config) *Manager {
	t.Helper()
	createTopic(ctx, t, cfg, cfg.Location)
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	if err := m.txn.start(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

func createTopic(ctx context.Context, t *testing.T, cfg Config, name string) {
	t.Helper()
	a, err := kafka.NewAdminClient(testClientConf(cfg, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: name, NumPartitions: 1, ReplicationFactor: 1}})
	if err == nil && res[0].Error.Code() != kafka.ErrNoError {
		err = res[0].Error
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := kafka.NewAdminClient(testClientConf(cfg, nil))
		if err == nil {
			_, _ = a.DeleteTopics(ctx, []string{name})
			a.Close()
		}
	})
}

// readCommitted returns the values of topic's partition 0 that a
// read_committed consumer sees, up to and including "end".
func readCommitted(ctx context.Context, t *testing.T, cfg Config, topic string) []string {
	t.Helper()
	c, err := kafka.NewConsumer(testClientConf(cfg, kafka.ConfigMap{"group.id": topic + ".check",
		"isolation.level": "read_committed", "auto.offset.reset": "earliest", "enable.auto.commit": false}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for ctx.Err() == nil {
		if m, ok := c.Poll(100).(*kafka.Message); ok && m.TopicPartition.Error == nil {
			if got = append(got, string(m.Value)); string(m.Value) == "end" {
				return got
			}
		}
	}
	t.Fatalf("reading %s: %v (read %q)", topic, ctx.Err(), got)
	return got
}
