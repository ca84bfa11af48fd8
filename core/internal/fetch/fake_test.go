package fetch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// fakeConsumer models what the fetcher relies on in librdkafka: each
// partition is fetched from its position, in order; Pause stops fetching a
// partition and Resume goes on where the application stopped reading
// (nothing polled is fetched twice unless Seek moves the position back);
// rebalance callbacks run inside Poll.
type fakeConsumer struct {
	topic string

	mu        sync.Mutex
	logs      map[int32][]*kafka.Message
	pos       map[int32]kafka.Offset
	paused    map[int32]bool
	assigned  []int32
	rebalance func(kafka.Event) error
	events    []kafka.Event // rebalance events for the next Poll
	stored    map[int32]kafka.Offset
	committed map[int32]kafka.Offset
	calls     []string // "pause 0", "resume 0", "seek 0 5"
	next      int      // round robin over assigned
	wake      chan struct{}
	closed    bool
}

func newFakeConsumer(topic string, partitions ...int32) *fakeConsumer {
	c := &fakeConsumer{
		topic: topic, logs: map[int32][]*kafka.Message{}, pos: map[int32]kafka.Offset{},
		paused: map[int32]bool{}, stored: map[int32]kafka.Offset{}, committed: map[int32]kafka.Offset{},
		wake: make(chan struct{}, 1),
	}
	var tps []kafka.TopicPartition
	for _, p := range partitions {
		tps = append(tps, kafka.TopicPartition{Topic: &c.topic, Partition: p})
	}
	c.events = append(c.events, kafka.AssignedPartitions{Partitions: tps})
	return c
}

// append writes records with these keys to partition p.
func (c *fakeConsumer) append(p int32, keys ...string) {
	c.mu.Lock()
	for _, k := range keys {
		off := kafka.Offset(len(c.logs[p]))
		c.logs[p] = append(c.logs[p], &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &c.topic, Partition: p, Offset: off},
			Key:            []byte(k),
		})
	}
	c.mu.Unlock()
	c.poke()
}

func (c *fakeConsumer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// revoke makes the next Poll revoke partitions ps.
func (c *fakeConsumer) revoke(ps ...int32) {
	c.mu.Lock()
	var tps []kafka.TopicPartition
	for _, p := range ps {
		tps = append(tps, kafka.TopicPartition{Topic: &c.topic, Partition: p})
	}
	c.events = append(c.events, kafka.RevokedPartitions{Partitions: tps})
	c.mu.Unlock()
	c.poke()
}

func (c *fakeConsumer) Subscribe(_ string, rebalance func(kafka.Event) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebalance = rebalance
	return nil
}

func (c *fakeConsumer) Poll(timeoutMs int) kafka.Event {
	deadline := time.After(time.Duration(timeoutMs) * time.Millisecond)
	for {
		c.mu.Lock()
		if len(c.events) > 0 {
			ev := c.events[0]
			c.events = c.events[1:]
			c.apply(ev)
			cb := c.rebalance
			c.mu.Unlock()
			_ = cb(ev)
			return nil
		}
		for range c.assigned {
			p := c.assigned[c.next%len(c.assigned)]
			c.next++
			if c.paused[p] || int(c.pos[p]) >= len(c.logs[p]) {
				continue
			}
			m := c.logs[p][c.pos[p]]
			c.pos[p]++
			c.mu.Unlock()
			return m
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-deadline:
			return nil
		}
	}
}

// apply changes the assignment as librdkafka does after the callback.
func (c *fakeConsumer) apply(ev kafka.Event) {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		for _, tp := range e.Partitions {
			c.assigned = append(c.assigned, tp.Partition)
			c.pos[tp.Partition] = c.committed[tp.Partition]
			c.paused[tp.Partition] = false
		}
	case kafka.RevokedPartitions:
		for _, tp := range e.Partitions {
			c.assigned = slices.DeleteFunc(c.assigned, func(p int32) bool { return p == tp.Partition })
		}
	}
}

func (c *fakeConsumer) record(call string) {
	c.calls = append(c.calls, call)
}

func (c *fakeConsumer) Pause(tps []kafka.TopicPartition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tp := range tps {
		c.paused[tp.Partition] = true
		c.record(fmt.Sprint("pause ", tp.Partition))
	}
	return nil
}

func (c *fakeConsumer) Resume(tps []kafka.TopicPartition) error {
	c.mu.Lock()
	for _, tp := range tps {
		c.paused[tp.Partition] = false
		c.record(fmt.Sprint("resume ", tp.Partition))
	}
	c.mu.Unlock()
	c.poke()
	return nil
}

func (c *fakeConsumer) Seek(tp kafka.TopicPartition) error {
	c.mu.Lock()
	c.pos[tp.Partition] = tp.Offset
	c.record(fmt.Sprint("seek ", tp.Partition, " ", int64(tp.Offset)))
	c.mu.Unlock()
	c.poke()
	return nil
}

func (c *fakeConsumer) StoreOffsets(tps []kafka.TopicPartition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tp := range tps {
		if tp.Offset < c.stored[tp.Partition] {
			panic(fmt.Sprintf("offset of partition %d stored backwards: %d after %d", tp.Partition, tp.Offset, c.stored[tp.Partition]))
		}
		c.stored[tp.Partition] = tp.Offset
	}
	return nil
}

func (c *fakeConsumer) Commit(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("commit")
	for p, o := range c.stored {
		c.committed[p] = o
	}
	return nil
}

// Close revokes what is assigned through the rebalance callback, as
// librdkafka's close does, then closes.
func (c *fakeConsumer) Close(context.Context) error {
	c.mu.Lock()
	c.record("close")
	var tps []kafka.TopicPartition
	for _, p := range c.assigned {
		tps = append(tps, kafka.TopicPartition{Topic: &c.topic, Partition: p})
	}
	rebalance := c.rebalance
	c.mu.Unlock()
	if rebalance != nil && len(tps) > 0 {
		_ = rebalance(kafka.RevokedPartitions{Partitions: tps})
	}
	c.mu.Lock()
	c.assigned = nil
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *fakeConsumer) Watermark(_ string, p int32) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.logs[p])), true
}

func (c *fakeConsumer) Position(_ string, p int32) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(c.pos[p]), true
}

func (c *fakeConsumer) storedAt(p int32) kafka.Offset {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stored[p]
}

func (c *fakeConsumer) callsSeen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// fakeDispatcher records what it handled; handle, takeEarly and awaiting
// decide what it does.
type fakeDispatcher struct {
	mu        sync.Mutex
	handled   map[int32][]string // keys, in the order handled
	taken     []string
	handle    func(ctx context.Context, msg *kafka.Message) (Acks, bool)
	takeEarly func(msg *kafka.Message) bool
	awaiting  func() bool
}

func (d *fakeDispatcher) TakeEarly(msg *kafka.Message) bool {
	if d.takeEarly != nil && d.takeEarly(msg) {
		d.mu.Lock()
		d.taken = append(d.taken, string(msg.Key))
		d.mu.Unlock()
		return true
	}
	return false
}

func (d *fakeDispatcher) Awaiting() bool { return d.awaiting != nil && d.awaiting() }

func (d *fakeDispatcher) Handle(ctx context.Context, msg *kafka.Message) (Acks, bool) {
	var acks Acks
	ok := true
	if d.handle != nil {
		acks, ok = d.handle(ctx, msg)
	}
	if ok {
		d.mu.Lock()
		if d.handled == nil {
			d.handled = map[int32][]string{}
		}
		d.handled[msg.TopicPartition.Partition] = append(d.handled[msg.TopicPartition.Partition], string(msg.Key))
		d.mu.Unlock()
	}
	return acks, ok
}

func (d *fakeDispatcher) handledOf(p int32) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.handled[p])
}

// acks are test Acks, completed by done.
type acks struct {
	ch  chan struct{}
	err error
}

func newAcks() *acks                     { return &acks{ch: make(chan struct{})} }
func (a *acks) Done() <-chan struct{}    { return a.ch }
func (a *acks) Err() error               { return a.err }
func (a *acks) complete(err error)       { a.err = err; close(a.ch) }
func keys(prefix string, n int) []string { return keysFrom(prefix, 0, n) }

func keysFrom(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, from+i)
	}
	return out
}

// startFetcher starts a fetcher over c and d, stopped at the end of the test.
func startFetcher(t *testing.T, c *fakeConsumer, d *fakeDispatcher, s Settings) *Fetcher {
	t.Helper()
	s.Topic = c.topic
	if s.Workers == 0 {
		s.Workers = 4
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = 10 * time.Second
	}
	f := New(c, d, s)
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	select {
	case <-f.Assigned():
	case <-time.After(10 * time.Second):
		t.Fatal("no assignment")
	}
	return f
}

// eventually waits up to 10 s for cond, failing with what it waited for.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
