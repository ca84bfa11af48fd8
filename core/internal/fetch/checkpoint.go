package fetch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Checkpoints: with a Committer (Settings.Committer) offsets are committed
// at checkpoints instead of through the consumer. A checkpoint shuts the
// gate (records not started wait; their workers go on settling acks), waits
// until no handler is in flight and every worker has stored the offsets of
// the records it handled (their sends acknowledged), and hands those offsets
// to Commit. Nothing a handler sent is then in flight, so a commit never
// covers a handler's first sends without its record: a handler's sends are
// committed with its record's offset or not at all.
//
// When Commit fails, or a record failed (its acks or its handling, or a
// drain gave up on a handler), everything since the last commit is handled
// again: every partition that handled a record is rewound to its last
// committed offset (its worker and queued records dropped, the consumer
// seeked, a new worker started), and the gate stays shut until Abort
// succeeds. When Commit cannot tell whether it committed (ErrInDoubt: the
// brokers did not answer in time, and the commit goes on without us), the
// gate stays shut and Commit is called again with the same offsets, with
// backoff, until it tells: aborting then could leave a commit that went
// through and records handled again after it, twice in the output.
// Checkpoints run on the poll goroutine (and in the rebalance callback, and
// in Stop), so they own the partitions' flow control.

// gate admits records to the dispatcher between checkpoints and counts the
// handlers in flight.
type gate struct {
	mu       sync.Mutex
	shut     bool
	reopen   chan struct{} // closed when the gate opens again
	inflight int
	idle     chan struct{} // while shut: closed once inflight drops to 0
}

// admit counts a handler in; when the gate is shut it returns a channel
// closed when it opens again.
func (g *gate) admit() (<-chan struct{}, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return g.reopen, false
	}
	g.inflight++
	return nil, true
}

// leave counts a handler out once the dispatcher returned.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if g.inflight == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// close shuts the gate; the channel is closed once no handler is in flight.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.shut {
		g.shut, g.reopen = true, make(chan struct{})
	}
	if g.inflight == 0 {
		return closedChan
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		g.shut = false
		close(g.reopen)
	}
}

// checkpoints is the commit schedule and state of a fetcher with a
// Committer. Fields without a comment are the poll goroutine's.
type checkpoints struct {
	c        Committer
	gate     gate
	interval time.Duration
	records  int64
	last     time.Time
	// handled: records admitted since the last checkpoint (workers add).
	handled atomic.Int64
	// kick: a worker failed; checkpoint (abort) at once.
	kick chan struct{}
	// committed: where each partition starts again after an abort: its
	// last committed offset, or the first offset polled in this assignment.
	committed map[int32]kafka.Offset
	// recovering: an abort is owed (the gate stays shut until it succeeds),
	// retried at retryAt.
	recovering bool
	// doubt: the offsets of a commit whose outcome is not known yet
	// (ErrInDoubt), resumed at retryAt; the gate stays shut meanwhile.
	doubt   []kafka.TopicPartition
	retryAt time.Time
	delay   time.Duration
	// dead: the committer failed for good; nothing is handled any more.
	dead bool
}

func newCheckpoints(s Settings) *checkpoints {
	interval := s.CommitInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return &checkpoints{c: s.Committer, interval: interval, records: int64(s.CommitRecords), last: time.Now(),
		kick: make(chan struct{}, 1), committed: map[int32]kafka.Offset{}}
}

// untilDue is how long the poll loop may wait before the next checkpoint.
func (cp *checkpoints) untilDue() time.Duration {
	if cp.retrying() {
		return max(time.Until(cp.retryAt), time.Millisecond)
	}
	return max(cp.interval-time.Since(cp.last), time.Millisecond)
}

// due reports whether a checkpoint should run now.
func (cp *checkpoints) due(dirty func() bool) bool {
	if cp.dead {
		return false
	}
	if cp.retrying() {
		return !time.Now().Before(cp.retryAt)
	}
	select {
	case <-cp.kick:
		return true
	default:
	}
	if time.Since(cp.last) < cp.interval && (cp.records <= 0 || cp.handled.Load() < cp.records) {
		return false
	}
	if !dirty() {
		cp.last = time.Now()
		return false
	}
	return true
}

// retrying reports whether an abort is owed or a commit is in doubt: the
// gate stays shut, and the next checkpoint (at retryAt) tries again.
func (cp *checkpoints) retrying() bool { return cp.recovering || cp.doubt != nil }

// backoff schedules the next try of an abort or of a commit in doubt.
func (cp *checkpoints) backoff() {
	cp.delay = min(max(2*cp.delay, 100*time.Millisecond), 5*time.Second)
	cp.retryAt = time.Now().Add(cp.delay)
}

// noteStart remembers where partition id starts in this assignment, the
// first time a record of it is polled.
func (f *Fetcher) noteStart(id int32, off kafka.Offset) {
	if f.cp == nil {
		return
	}
	if _, ok := f.cp.committed[id]; !ok {
		f.cp.committed[id] = off
	}
}

// admit waits until the gate lets w hand a record to the dispatcher,
// settling w's acks and answering checkpoints meanwhile. It reports false
// when w must stop (or failed).
func (f *Fetcher) admit(w *worker) bool {
	for {
		wait, ok := f.cp.gate.admit()
		if ok {
			f.cp.handled.Add(1)
			w.dirty.Store(true)
			return true
		}
		var head <-chan struct{}
		if len(w.inflight) > 0 {
			head = w.inflight[0].done()
		}
		select {
		case <-wait:
		case <-head:
			if !f.settle(w) {
				return false
			}
		case r := <-w.sync:
			w.syncers = append(w.syncers, r)
			w.answer()
		case <-w.stop:
			return false
		case <-f.set.Closing:
			return false
		}
	}
}

// fail marks w failed: the next checkpoint aborts, at once.
func (f *Fetcher) fail(w *worker) {
	if f.cp == nil {
		return
	}
	w.failed.Store(true)
	select {
	case f.cp.kick <- struct{}{}:
	default:
	}
}

// synced waits until w stored the offsets of every record it handled, and
// reports whether w is sound (it did not fail or stop).
func (f *Fetcher) synced(ctx context.Context, w *worker) bool {
	r := make(chan struct{})
	select {
	case w.sync <- r:
	case <-w.done:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-r:
		return !w.failed.Load()
	case <-w.done:
		return false
	case <-ctx.Done():
		return false
	}
}

// dirty reports whether anything was handled or stored since the last
// checkpoint.
func (f *Fetcher) dirty() bool {
	if f.cp.handled.Load() > 0 {
		return true
	}
	f.offMu.Lock()
	defer f.offMu.Unlock()
	return len(f.uncommitted) > 0
}

// takeStored returns the offsets stored since the last checkpoint.
func (f *Fetcher) takeStored() []kafka.TopicPartition {
	f.offMu.Lock()
	defer f.offMu.Unlock()
	tps := make([]kafka.TopicPartition, 0, len(f.uncommitted))
	for p, off := range f.uncommitted {
		tps = append(tps, kafka.TopicPartition{Topic: &f.set.Topic, Partition: p, Offset: kafka.Offset(off)})
	}
	clear(f.uncommitted)
	return tps
}

// periodicCheckpoint runs a checkpoint from the poll loop, bounded by
// DrainTimeout (and by Stop's ctx).
func (f *Fetcher) periodicCheckpoint() {
	ctx, cancel := context.WithTimeout(f.drainCtx, f.set.DrainTimeout)
	defer cancel()
	f.checkpoint(ctx, false)
}

// checkpoint commits what was handled since the last checkpoint; failed
// says something failed already, so it aborts instead.
func (f *Fetcher) checkpoint(ctx context.Context, failed bool) {
	cp := f.cp
	if cp.dead {
		return
	}
	if cp.recovering {
		f.recover(ctx)
		return
	}
	if cp.doubt != nil { // nothing was handled since: the gate is shut
		f.commitTxn(ctx, cp.doubt)
		return
	}
	if !failed && !f.dirty() {
		cp.last = time.Now()
		return
	}
	for _, p := range f.parts {
		if p.w.failed.Load() {
			failed = true
		}
	}
	select {
	case <-cp.gate.close():
	case <-ctx.Done():
		failed = true // a handler outlived the bound: abort
	}
	// Also before an abort: what is still in flight is settled first.
	for _, p := range f.parts {
		if !f.synced(ctx, p.w) {
			failed = true
		}
	}
	offsets := f.takeStored()
	cp.handled.Store(0)
	cp.last = time.Now()
	if !failed {
		f.commitTxn(ctx, offsets)
		return
	}
	f.log.Warn("kafka-broker: a record failed; aborting, the records handled since the last commit are handled again",
		"topic", f.set.Topic)
	f.abort(ctx)
}

// commitTxn commits offsets through the Committer, or resumes their commit
// when it was in doubt; the gate opens when it committed. A failed commit
// aborts; one in doubt is tried again later.
func (f *Fetcher) commitTxn(ctx context.Context, offsets []kafka.TopicPartition) {
	cp := f.cp
	err := cp.c.Commit(ctx, offsets)
	switch {
	case err == nil:
		cp.doubt, cp.delay = nil, 0
		cp.last = time.Now()
		for _, tp := range offsets {
			if _, ok := f.parts[tp.Partition]; ok { // not revoked while in doubt
				cp.committed[tp.Partition] = tp.Offset
			}
		}
		for _, p := range f.parts {
			p.w.dirty.Store(false)
		}
		cp.gate.open()
	case errors.Is(err, ErrFatal):
		f.die(err)
	case errors.Is(err, ErrInDoubt):
		if cp.doubt == nil {
			cp.doubt, cp.delay = offsets, 0
		}
		cp.backoff()
		f.log.Warn("kafka-broker: commit not confirmed in time; resuming it, nothing is handled meanwhile",
			"topic", f.set.Topic, "retry_in", cp.delay, "error", err)
	default:
		cp.doubt = nil
		f.log.Warn("kafka-broker: commit failed; the records handled since the last commit are handled again",
			"topic", f.set.Topic, "error", err)
		f.abort(ctx)
	}
}

// abort rewinds every partition that handled a record since the last
// commit and aborts what they did.
func (f *Fetcher) abort(ctx context.Context) {
	f.rewindDirty(ctx)
	f.cp.recovering, f.cp.retryAt, f.cp.delay = true, time.Time{}, 0
	f.recover(ctx)
}

// recover aborts what was handled since the last commit; the gate opens
// once that succeeded, and the abort is retried with backoff until it does.
func (f *Fetcher) recover(ctx context.Context) {
	cp := f.cp
	err := cp.c.Abort(ctx)
	if err == nil {
		cp.recovering, cp.delay = false, 0
		cp.last = time.Now()
		cp.gate.open()
		return
	}
	if errors.Is(err, ErrFatal) {
		f.die(err)
		return
	}
	cp.backoff()
	f.log.Warn("kafka-broker: abort failed; retrying, nothing is handled meanwhile", "topic", f.set.Topic,
		"retry_in", cp.delay, "error", err)
}

// rewindDirty makes every partition that handled or failed a record since
// the last commit start again at its last committed offset.
func (f *Fetcher) rewindDirty(ctx context.Context) {
	for _, p := range f.parts {
		if p.w.dirty.Load() || p.w.failed.Load() || p.w.finished() {
			f.rewindPartition(ctx, p)
		}
	}
}

// canceled is a ctx that has ended: the drain of a worker being rewound
// stores nothing more.
var canceled = func() context.Context { ctx, cancel := context.WithCancel(context.Background()); cancel(); return ctx }()

// rewindPartition drops p's worker and what it holds and starts p again at
// its last committed offset with a new worker.
func (f *Fetcher) rewindPartition(ctx context.Context, p *partition) {
	w := p.w
	w.abandon() // stores nothing more; what it still runs is aborted
	w.drain = canceled
	close(w.stop)
	select {
	case <-w.done:
	case <-ctx.Done():
		f.abandoned = append(f.abandoned, w) // its handler still runs; Stop waits for it
	}
	f.release(p)
	f.mu.Lock()
	delete(f.parts, p.id)
	f.mu.Unlock()
	if to, ok := f.cp.committed[p.id]; ok {
		if err := f.c.Seek(kafka.TopicPartition{Topic: &f.set.Topic, Partition: p.id, Offset: to}); err != nil {
			f.log.Error("kafka-broker: rewind partition after an abort", "topic", f.set.Topic, "partition", p.id,
				"offset", int64(to), "error", err)
		}
	}
	f.partition(p.id)
}

// die stops handling for good: the committer cannot commit any more.
func (f *Fetcher) die(err error) {
	f.cp.dead = true
	f.log.Error("kafka-broker: cannot commit any more; this instance handles no more records (restart it)",
		"topic", f.set.Topic, "error", err)
	for _, p := range f.parts {
		p.w.abandon()
		p.w.drain = canceled
		close(p.w.stop)
		f.release(p)
		f.abandoned = append(f.abandoned, p.w)
	}
	f.mu.Lock()
	clear(f.parts)
	f.mu.Unlock()
}

// stopAndCheckpoint stops the workers of partitions ids (a revocation, or
// Stop) and ends the checkpoint they are part of: a commit, or an abort
// when one of them failed or outlived ctx.
func (f *Fetcher) stopAndCheckpoint(ctx context.Context, ids []int32) error {
	var ws []*worker
	for _, id := range ids {
		if p, ok := f.parts[id]; ok {
			ws = append(ws, p.w)
		}
	}
	err := f.stopWorkers(ctx, ids)
	failed := err != nil
	for _, w := range ws {
		failed = failed || w.failed.Load()
	}
	f.checkpoint(ctx, failed)
	for _, id := range ids {
		delete(f.cp.committed, id)
	}
	if err != nil {
		return fmt.Errorf("handlers still running: %w", err)
	}
	return nil
}
