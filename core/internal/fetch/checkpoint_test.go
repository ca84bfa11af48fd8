package fetch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// fakeTxn is a Committer that models a transaction: what handlers send is
// pending until Commit makes it output, with the offsets; Abort drops it.
// It fails the test when a commit would cover a send without its record's
// offset, or runs while a handler is in flight.
type fakeTxn struct {
	t        *testing.T
	inflight *atomic.Int32 // handlers in flight, counted by the dispatcher

	mu         sync.Mutex
	pending    []sentRecord
	output     map[int32][]string // committed sends, by partition, in order
	offsets    map[int32]kafka.Offset
	commits    int
	aborts     int
	failCommit func(n int) error // n: the commit's number, from 1
	failAbort  func(n int) error
	// inDoubt, when it returns "committed" or "aborted" for a commit,
	// makes that commit return ErrInDoubt having done so; the call that
	// resumes it (same offsets, nothing sent since) tells.
	inDoubt func(n int) string
	doubt   *doubtfulCommit
	doubts  int
}

type doubtfulCommit struct {
	outcome string
	offsets []kafka.TopicPartition
	resumes int
}

type sentRecord struct {
	partition int32
	offset    kafka.Offset
	key       string
}

func newFakeTxn(t *testing.T) *fakeTxn {
	return &fakeTxn{t: t, inflight: new(atomic.Int32), output: map[int32][]string{}, offsets: map[int32]kafka.Offset{}}
}

func (x *fakeTxn) send(m *kafka.Message) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pending = append(x.pending, sentRecord{m.TopicPartition.Partition, m.TopicPartition.Offset, string(m.Key)})
}

func (x *fakeTxn) Commit(_ context.Context, offsets []kafka.TopicPartition) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.commits++
	if n := x.inflight.Load(); n != 0 {
		x.t.Errorf("commit %d with %d handlers in flight", x.commits, n)
	}
	if d := x.doubt; d != nil {
		return x.resume(d, offsets)
	}
	if x.failCommit != nil {
		if err := x.failCommit(x.commits); err != nil {
			return err
		}
	}
	next := map[int32]kafka.Offset{}
	for p, o := range x.offsets {
		next[p] = o
	}
	for _, tp := range offsets {
		if tp.Offset < next[tp.Partition] {
			x.t.Errorf("commit %d moves partition %d back from %d to %d", x.commits, tp.Partition, next[tp.Partition], tp.Offset)
		}
		next[tp.Partition] = tp.Offset
	}
	outcome := ""
	if x.inDoubt != nil {
		outcome = x.inDoubt(x.commits)
	}
	if outcome != "" {
		x.doubts++
		x.doubt = &doubtfulCommit{outcome: outcome, offsets: slices.Clone(offsets)}
		if outcome == "aborted" {
			x.pending = nil
			return fmt.Errorf("commit timed out: %w", ErrInDoubt)
		}
	}
	for _, s := range x.pending {
		if s.offset >= next[s.partition] {
			x.t.Errorf("commit %d covers a send of record %d/%d without its offset (partition committed at %d)",
				x.commits, s.partition, s.offset, next[s.partition])
		}
		x.output[s.partition] = append(x.output[s.partition], s.key)
	}
	x.pending, x.offsets = nil, next
	if outcome != "" {
		return fmt.Errorf("commit timed out: %w", ErrInDoubt)
	}
	return nil
}

// resume is a Commit while d is in doubt: it must carry d's offsets, and
// nothing may have been sent since; the first resume stays in doubt, the
// second tells d's outcome.
func (x *fakeTxn) resume(d *doubtfulCommit, offsets []kafka.TopicPartition) error {
	if !slices.EqualFunc(d.offsets, offsets, func(a, b kafka.TopicPartition) bool {
		return a.Partition == b.Partition && a.Offset == b.Offset
	}) {
		x.t.Errorf("commit %d resumes a commit in doubt with offsets %v, want %v", x.commits, offsets, d.offsets)
	}
	if len(x.pending) != 0 {
		x.t.Errorf("commit %d: %d records sent while a commit was in doubt", x.commits, len(x.pending))
	}
	if d.resumes++; d.resumes == 1 {
		return fmt.Errorf("commit still in progress: %w", ErrInDoubt)
	}
	x.doubt = nil
	if d.outcome == "aborted" {
		return errors.New("the transaction was aborted")
	}
	return nil
}

func (x *fakeTxn) Abort(context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.aborts++
	if x.doubt != nil {
		x.t.Errorf("abort %d while a commit is in doubt", x.aborts)
	}
	if n := x.inflight.Load(); n != 0 {
		x.t.Errorf("abort %d with %d handlers in flight", x.aborts, n)
	}
	if x.failAbort != nil {
		if err := x.failAbort(x.aborts); err != nil {
			return err
		}
	}
	x.pending = nil
	return nil
}

func (x *fakeTxn) committedAt(p int32) kafka.Offset {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.offsets[p]
}

func (x *fakeTxn) outputOf(p int32) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.output[p])
}

func (x *fakeTxn) counts() (commits, aborts int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.commits, x.aborts
}

// txnDispatcher is a dispatcher whose handlers send one record each into
// x, after a short random time, and whose acks complete a little later;
// failAck, when it returns an error for a record, fails its acks.
func txnDispatcher(x *fakeTxn, failAck func(*kafka.Message) error) *fakeDispatcher {
	return &fakeDispatcher{handle: func(_ context.Context, m *kafka.Message) (Acks, bool) {
		x.inflight.Add(1)
		defer x.inflight.Add(-1)
		if rand.IntN(4) == 0 {
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		}
		x.send(m)
		a := newAcks()
		var err error
		if failAck != nil {
			err = failAck(m)
		}
		time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, func() { a.complete(err) })
		return a, true
	}}
}

// checkExactlyOnce fails the test unless every partition's committed output
// is its n records, each once, in order.
func checkExactlyOnce(t *testing.T, x *fakeTxn, n int, partitions ...int32) {
	t.Helper()
	for _, p := range partitions {
		eventually(t, fmt.Sprintf("partition %d committed to %d", p, n), func() bool { return x.committedAt(p) == kafka.Offset(n) })
		if got, want := x.outputOf(p), keys(fmt.Sprint("p", p, "-"), n); !slices.Equal(got, want) {
			t.Fatalf("partition %d: committed output has %d records, want each of %d once, in order (first difference at %d)",
				p, len(got), n, firstDifference(got, want))
		}
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func appendAll(c *fakeConsumer, n int, partitions ...int32) {
	for _, p := range partitions {
		c.append(p, keys(fmt.Sprint("p", p, "-"), n)...)
	}
}

// With a Committer, offsets go to it, not to the consumer; each commit
// covers exactly the sends of the records whose offsets it commits (no
// handler in flight, every send acknowledged), so the committed output holds
// every record once, in order.
func TestCheckpointsCommitSendsWithTheirOffsets(t *testing.T) {
	c := newFakeConsumer("t", 0, 1, 2)
	x := newFakeTxn(t)
	startFetcher(t, c, txnDispatcher(x, nil), Settings{PartitionQueue: 16, Committer: x, CommitInterval: 2 * time.Millisecond})
	appendAll(c, 400, 0, 1, 2)
	checkExactlyOnce(t, x, 400, 0, 1, 2)
	commits, aborts := x.counts()
	if commits < 2 || aborts != 0 {
		t.Fatalf("%d commits, %d aborts; want several commits and no abort", commits, aborts)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stored) != 0 || len(c.committed) != 0 {
		t.Fatalf("the consumer stored %v and committed %v; with a Committer it must store nothing", c.stored, c.committed)
	}
	t.Logf("%d commits", commits)
}

// CommitRecords makes a checkpoint once that many records were handled,
// before the interval.
func TestCheckpointEveryNRecords(t *testing.T) {
	c := newFakeConsumer("t", 0)
	x := newFakeTxn(t)
	startFetcher(t, c, txnDispatcher(x, nil), Settings{PartitionQueue: 8, Committer: x, CommitInterval: time.Hour, CommitRecords: 10})
	appendAll(c, 100, 0)
	eventually(t, "offset 90 committed", func() bool { return x.committedAt(0) >= 90 })
}

// A failed commit, and a record whose sends fail, abort: every record since
// the last commit is handled again from the last committed offset (the
// consumer is seeked back), and the committed output still holds each record
// once, in order.
func TestAbortHandlesAgainFromLastCommit(t *testing.T) {
	c := newFakeConsumer("t", 0, 1)
	x := newFakeTxn(t)
	x.failCommit = func(n int) error {
		if n == 2 || n == 3 || n == 6 {
			return errors.New("commit refused")
		}
		return nil
	}
	var failedOnce atomic.Bool
	failAck := func(m *kafka.Message) error {
		if string(m.Key) == "p1-150" && failedOnce.CompareAndSwap(false, true) {
			return errors.New("reply not acknowledged")
		}
		return nil
	}
	startFetcher(t, c, txnDispatcher(x, failAck), Settings{PartitionQueue: 16, Committer: x, CommitInterval: 2 * time.Millisecond})
	appendAll(c, 300, 0, 1)
	checkExactlyOnce(t, x, 300, 0, 1)
	if _, aborts := x.counts(); aborts < 4 {
		t.Fatalf("%d aborts, want at least 4 (three failed commits, one failed ack)", aborts)
	}
	if !slices.ContainsFunc(c.callsSeen(), func(s string) bool { return strings.HasPrefix(s, "seek ") }) {
		t.Fatalf("calls %v: aborted but never seeked back", c.callsSeen())
	}
}

// A commit whose outcome is not known (ErrInDoubt) is resumed, not aborted,
// and nothing is handled until it tells: when it went through, the records
// it covers are not handled again; when it was aborted, they are. Either
// way the committed output holds each record once, in order.
func TestCommitInDoubtIsResumedNotAborted(t *testing.T) {
	for _, outcome := range []string{"committed", "aborted"} {
		t.Run(outcome, func(t *testing.T) {
			c := newFakeConsumer("t", 0, 1)
			x := newFakeTxn(t)
			x.inDoubt = func(n int) string {
				if n == 2 || n == 9 {
					return outcome
				}
				return ""
			}
			startFetcher(t, c, txnDispatcher(x, nil), Settings{PartitionQueue: 16, Committer: x, CommitInterval: 2 * time.Millisecond})
			appendAll(c, 300, 0, 1)
			checkExactlyOnce(t, x, 300, 0, 1)
			x.mu.Lock()
			doubts, aborts := x.doubts, x.aborts
			x.mu.Unlock()
			if doubts != 2 {
				t.Fatalf("%d commits in doubt, want 2", doubts)
			}
			if want := map[string]int{"committed": 0, "aborted": 2}[outcome]; aborts != want {
				t.Fatalf("%d aborts, want %d", aborts, want)
			}
		})
	}
}

// An abort that fails is retried, and nothing is handled until it succeeds.
func TestAbortRetriedBeforeHandlingResumes(t *testing.T) {
	c := newFakeConsumer("t", 0)
	x := newFakeTxn(t)
	x.failCommit = func(n int) error {
		if n == 1 {
			return errors.New("commit refused")
		}
		return nil
	}
	x.failAbort = func(n int) error {
		if n <= 2 {
			return errors.New("coordinator not available")
		}
		return nil
	}
	var handledDuringAbort atomic.Int32
	d := txnDispatcher(x, nil)
	inner := d.handle
	d.handle = func(ctx context.Context, m *kafka.Message) (Acks, bool) {
		if _, aborts := x.counts(); aborts >= 1 && aborts <= 2 {
			handledDuringAbort.Add(1)
		}
		return inner(ctx, m)
	}
	startFetcher(t, c, d, Settings{PartitionQueue: 8, Committer: x, CommitInterval: 2 * time.Millisecond})
	appendAll(c, 50, 0)
	checkExactlyOnce(t, x, 50, 0)
	if _, aborts := x.counts(); aborts < 3 {
		t.Fatalf("%d aborts, want 3 (two failed, one that succeeded)", aborts)
	}
	if n := handledDuringAbort.Load(); n != 0 {
		t.Fatalf("%d records handled while the abort kept failing", n)
	}
}

// A revocation commits the open checkpoint in the rebalance callback,
// before the partition goes: the next owner starts after what was handled.
func TestRevokeCommitsTheOpenCheckpoint(t *testing.T) {
	c := newFakeConsumer("t", 0, 1)
	x := newFakeTxn(t)
	started := make(chan struct{})
	release := make(chan struct{})
	d := txnDispatcher(x, nil)
	inner := d.handle
	d.handle = func(ctx context.Context, m *kafka.Message) (Acks, bool) {
		if string(m.Key) == "p0-3" {
			close(started)
			<-release
		}
		return inner(ctx, m)
	}
	f := startFetcher(t, c, d, Settings{PartitionQueue: 16, Committer: x, CommitInterval: time.Hour})
	appendAll(c, 10, 0)
	<-started
	f.mu.Lock()
	w := f.parts[0].w
	f.mu.Unlock()
	c.revoke(0)
	eventually(t, "the revoke to stop the worker", w.stopped)
	close(release)
	eventually(t, "offset 4 of the revoked partition committed", func() bool { return x.committedAt(0) == 4 })
	if got := x.outputOf(0); !slices.Equal(got, keys("p0-", 4)) {
		t.Fatalf("committed output %v, want p0-0..p0-3", got)
	}
}

// A committer that fails for good (ErrFatal) stops the handling: nothing
// more is handled or committed, and Stop still works.
func TestFatalCommitStopsHandling(t *testing.T) {
	c := newFakeConsumer("t", 0)
	x := newFakeTxn(t)
	x.failCommit = func(int) error { return fmt.Errorf("producer fenced: %w", ErrFatal) }
	d := txnDispatcher(x, nil)
	startFetcher(t, c, d, Settings{PartitionQueue: 4, Committer: x, CommitInterval: 2 * time.Millisecond})
	c.append(0, "p0-0")
	eventually(t, "a commit", func() bool { commits, _ := x.counts(); return commits >= 1 })
	before := len(d.handledOf(0))
	c.append(0, keys("later", 20)...)
	time.Sleep(50 * time.Millisecond) // give a wrongly living worker the time to handle them
	if got := len(d.handledOf(0)); got != before {
		t.Fatalf("%d records handled after the committer failed for good", got-before)
	}
	if commits, _ := x.counts(); commits != 1 {
		t.Fatalf("%d commits after the committer failed for good", commits)
	}
}

// A handler that outlives DrainTimeout at a periodic checkpoint makes it
// abort: its partition is rewound and the handler abandoned, with its ctx
// ended (cause ErrAbandoned) before the abort, so nothing it sends after
// lands in a later transaction; the record is handled again and the
// committed output still holds every record once.
func TestCheckpointAbandonsAHandlerThatOutlivesIt(t *testing.T) {
	c := newFakeConsumer("t", 0)
	x := newFakeTxn(t)
	inner := txnDispatcher(x, nil)
	var held atomic.Bool
	cause := make(chan error, 1)
	d := &fakeDispatcher{handle: func(ctx context.Context, m *kafka.Message) (Acks, bool) {
		if string(m.Key) == "p0-5" && held.CompareAndSwap(false, true) {
			select {
			case <-ctx.Done():
				cause <- context.Cause(ctx)
			case <-time.After(10 * time.Second):
				cause <- nil
			}
			return nil, false // what an abandoned handler's dispatch reports
		}
		return inner.Handle(ctx, m)
	}}
	startFetcher(t, c, d, Settings{PartitionQueue: 16, Committer: x, CommitInterval: 2 * time.Millisecond,
		DrainTimeout: 100 * time.Millisecond})
	appendAll(c, 50, 0)
	if err := <-cause; !errors.Is(err, ErrAbandoned) {
		t.Fatalf("the held handler's ctx ended with %v, want ErrAbandoned", err)
	}
	checkExactlyOnce(t, x, 50, 0)
	if _, aborts := x.counts(); aborts < 1 {
		t.Fatal("no abort: the checkpoint waited for the handler instead of giving up on it")
	}
}
