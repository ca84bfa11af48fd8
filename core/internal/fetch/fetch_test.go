package fetch

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Records of a partition are handled in order, each once, and offsets are
// stored in order even when acks complete out of order.
func TestOffsetsStoredInOrderAsAcksComplete(t *testing.T) {
	c := newFakeConsumer("t", 0)
	var mu sync.Mutex
	var pending []*acks
	d := &fakeDispatcher{handle: func(context.Context, *kafka.Message) (Acks, bool) {
		a := newAcks()
		mu.Lock()
		pending = append(pending, a)
		mu.Unlock()
		return a, true
	}}
	startFetcher(t, c, d, Settings{PartitionQueue: 64})
	c.append(0, keys("r", 50)...)
	eventually(t, "50 records handled", func() bool { return len(d.handledOf(0)) == 50 })
	if got := c.storedAt(0); got != 0 {
		t.Fatalf("offset %d stored before any ack", got)
	}
	mu.Lock()
	acked := slices.Clone(pending)
	mu.Unlock()
	// Complete the acks in a random order but the first; nothing may be stored.
	rest := acked[1:]
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for _, a := range rest {
		a.complete(nil)
	}
	if got := c.storedAt(0); got != 0 {
		t.Fatalf("offset %d stored while record 0 waits for its ack", got)
	}
	acked[0].complete(nil)
	eventually(t, "offset 50 stored", func() bool { return c.storedAt(0) == 50 })
	if got := d.handledOf(0); !slices.Equal(got, keys("r", 50)) {
		t.Fatalf("handled %v, want r0..r49 in order", got)
	}
}

// A record whose sends fail for good is not committed, nor is anything
// after it on its partition.
func TestFailedAcksAreNotCommitted(t *testing.T) {
	c := newFakeConsumer("t", 0)
	d := &fakeDispatcher{handle: func(_ context.Context, m *kafka.Message) (Acks, bool) {
		a := newAcks()
		if string(m.Key) == "r3" {
			a.complete(errors.New("reply not acknowledged"))
		} else {
			a.complete(nil)
		}
		return a, true
	}}
	startFetcher(t, c, d, Settings{PartitionQueue: 8})
	c.append(0, keys("r", 6)...)
	eventually(t, "r0..r3 handled", func() bool { return len(d.handledOf(0)) >= 4 })
	eventually(t, "offset 3 stored", func() bool { return c.storedAt(0) == 3 })
	// Give the worker every chance to go on: it must not store past 3.
	c.append(0, "r6")
	if got := c.storedAt(0); got != 3 {
		t.Fatalf("stored offset %d, want 3 (r3's reply was never acknowledged)", got)
	}
}

// A partition whose queue fills up behind a slow handler is paused without
// dropping what was polled; when the queue drains it resumes where it left
// off: no rewind, every record once, in order. The other partition goes on.
func TestFullQueuePausesWithoutDropping(t *testing.T) {
	c := newFakeConsumer("t", 0, 1)
	gate := make(chan struct{})
	d := &fakeDispatcher{handle: func(_ context.Context, m *kafka.Message) (Acks, bool) {
		if string(m.Key) == "a0" {
			<-gate
		}
		return nil, true
	}}
	f := startFetcher(t, c, d, Settings{PartitionQueue: 2})
	c.append(0, keys("a", 20)...)
	c.append(1, keys("b", 20)...)
	eventually(t, "partition 0 paused", func() bool { return slices.Contains(c.callsSeen(), "pause 0") })
	eventually(t, "partition 1 handled while 0 is paused", func() bool { return len(d.handledOf(1)) == 20 })
	if lag := f.Lag(); len(lag) != 2 || lag[0].Lag != 20 || lag[1].Lag != 0 {
		t.Fatalf("lag %+v, want 20 on the paused partition (nothing handled), 0 on the other", lag)
	}
	close(gate)
	eventually(t, "partition 0 handled", func() bool { return len(d.handledOf(0)) == 20 })
	if got := d.handledOf(0); !slices.Equal(got, keys("a", 20)) {
		t.Fatalf("handled %v, want a0..a19 once each, in order", got)
	}
	eventually(t, "offsets stored", func() bool { return c.storedAt(0) == 20 })
	for _, call := range c.callsSeen() {
		if strings.HasPrefix(call, "seek") {
			t.Fatalf("%s: a pause must not rewind", call)
		}
	}
	if !slices.Contains(c.callsSeen(), "resume 0") {
		t.Fatal("partition 0 never resumed")
	}
	if lag := f.Lag(); lag[0].Lag != 0 {
		t.Fatalf("lag %+v after everything was handled", lag)
	}
}

// A handler awaits a reply that arrives on its own partition behind the
// full queue: the paused partition is read ahead, the reply is taken early,
// and what read-ahead skipped is read again afterwards, handled once, in
// order; the reply is never handed to Handle.
func TestReadAheadTakesReplyBehindFullQueue(t *testing.T) {
	c := newFakeConsumer("t", 0)
	var awaiting sync.Mutex // held while the first handler waits
	var waiting bool
	reply := make(chan struct{})
	d := &fakeDispatcher{}
	d.awaiting = func() bool { awaiting.Lock(); defer awaiting.Unlock(); return waiting }
	d.takeEarly = func(m *kafka.Message) bool {
		if string(m.Key) != "reply" {
			return false
		}
		awaiting.Lock()
		defer awaiting.Unlock()
		if !waiting {
			return false
		}
		waiting = false
		close(reply)
		return true
	}
	d.handle = func(_ context.Context, m *kafka.Message) (Acks, bool) {
		if string(m.Key) == "ask" {
			awaiting.Lock()
			waiting = true
			awaiting.Unlock()
			select {
			case <-reply:
			case <-time.After(20 * time.Second):
				t.Error("the reply never reached the waiting handler")
			}
		}
		return nil, true
	}
	startFetcher(t, c, d, Settings{PartitionQueue: 2})
	c.append(0, "ask")
	c.append(0, keys("f", 8)...) // fills queue and hold: paused
	eventually(t, "partition paused", func() bool { return slices.Contains(c.callsSeen(), "pause 0") })
	c.append(0, "reply")
	c.append(0, keys("f", 8)[:0]...)
	c.append(0, "after")
	eventually(t, "everything handled", func() bool { return len(d.handledOf(0)) == 10 })
	want := append(append([]string{"ask"}, keys("f", 8)...), "after")
	if got := d.handledOf(0); !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v (the reply taken early, not handled)", got, want)
	}
	eventually(t, "all offsets stored", func() bool { return c.storedAt(0) == 11 })
	if !slices.ContainsFunc(c.callsSeen(), func(s string) bool { return strings.HasPrefix(s, "seek 0 ") }) {
		t.Fatalf("calls %v: read-ahead skipped records but never rewound", c.callsSeen())
	}
}

// Revoking a partition waits for its handler in flight and its acks,
// commits, and drops the queued records uncommitted for the next owner.
func TestRevokeDrainsInFlightAndCommits(t *testing.T) {
	c := newFakeConsumer("t", 0)
	started := make(chan struct{})
	gate := make(chan struct{})
	ack := newAcks()
	d := &fakeDispatcher{handle: func(_ context.Context, m *kafka.Message) (Acks, bool) {
		if string(m.Key) == "r0" {
			close(started)
			<-gate
			return ack, true
		}
		return nil, true
	}}
	f := startFetcher(t, c, d, Settings{PartitionQueue: 4})
	c.append(0, keys("r", 4)...)
	<-started
	f.mu.Lock()
	w := f.parts[0].w
	f.mu.Unlock()
	c.revoke(0)
	eventually(t, "the revoke to stop the worker", w.stopped)
	close(gate)
	time.AfterFunc(50*time.Millisecond, func() { ack.complete(nil) })
	eventually(t, "offset 1 committed", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.committed[0] == 1
	})
	if got := d.handledOf(0); !slices.Equal(got, []string{"r0"}) {
		t.Fatalf("handled %v after the revoke, want only r0", got)
	}
}

// A drain that times out abandons the worker: it stores nothing more, its
// handler's ctx ends with cause ErrAbandoned, and Stop reports the handler
// still running.
func TestDrainTimeoutAbandonsWorker(t *testing.T) {
	c := newFakeConsumer("t", 0)
	started := make(chan struct{})
	gate := make(chan struct{})
	cause := make(chan error, 1)
	d := &fakeDispatcher{handle: func(ctx context.Context, _ *kafka.Message) (Acks, bool) {
		close(started)
		select {
		case <-ctx.Done():
			cause <- context.Cause(ctx)
		case <-gate:
			cause <- nil
		}
		<-gate
		return nil, true
	}}
	f := New(c, d, Settings{Topic: "t", Workers: 1, PartitionQueue: 4, DrainTimeout: 50 * time.Millisecond})
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.append(0, "r0")
	<-started
	c.revoke(0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := f.Stop(ctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want a report of the handler still running", err)
	}
	select {
	case err := <-cause:
		if !errors.Is(err, ErrAbandoned) {
			t.Errorf("the abandoned handler's ctx ended with %v, want ErrAbandoned", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the abandoned handler's ctx was not canceled")
	}
	close(gate)
	eventually(t, "the abandoned worker to end", func() bool { return f.abandoned[0].finished() })
	if got := c.storedAt(0); got != 0 {
		t.Fatalf("an abandoned worker stored offset %d", got)
	}
}

// Stop waits for handlers in flight and their acks, stores and commits.
func TestStopDrainsAndCommits(t *testing.T) {
	c := newFakeConsumer("t", 0)
	ack := newAcks()
	handled := make(chan struct{})
	d := &fakeDispatcher{handle: func(context.Context, *kafka.Message) (Acks, bool) {
		close(handled)
		return ack, true
	}}
	f := New(c, d, Settings{Topic: "t", Workers: 1, PartitionQueue: 4, DrainTimeout: time.Second})
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.append(0, "r0")
	<-handled
	time.AfterFunc(50*time.Millisecond, func() { ack.complete(nil) })
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committed[0] != 1 || !c.closed {
		t.Fatalf("committed %d, closed %v; want 1 and closed", c.committed[0], c.closed)
	}
	// The consumer's close revokes the partitions through the callback; Stop
	// committed already, and a commit from there would wait on a group that
	// is being left (librdkafka).
	if i := slices.Index(c.calls, "close"); i < 0 || slices.Contains(c.calls[i:], "commit") {
		t.Fatalf("calls %v: want no commit once the consumer closes", c.calls)
	}
}
