package fetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Fetcher consumes Settings.Topic as a group member: one goroutine polls,
// one worker per assigned partition handles. Create it with New, start it
// with Start, stop it with Stop.
type Fetcher struct {
	c   Consumer
	d   Dispatcher
	set Settings
	log *slog.Logger

	sem      chan struct{} // bounds handlers running at once (Settings.Workers)
	stop     chan struct{} // closed to stop polling
	done     chan struct{} // poll loop ended
	assigned chan struct{} // closed at the first assignment
	once     sync.Once
	started  bool
	closing  bool // set before the consumer closes, which may still rebalance

	// handlerCtx is the parent of every handler's ctx (given to Start).
	handlerCtx context.Context
	// drainCtx bounds waits for handlers of revoked partitions; Stop
	// cancels it when its own ctx ends.
	drainCtx    context.Context
	cancelDrain context.CancelFunc

	mu    sync.Mutex // guards parts for Lag; the poll goroutine is its only writer
	parts map[int32]*partition
	// abandoned: workers a drain stopped waiting for; Stop waits for them too.
	abandoned []*worker

	fullTimer *time.Timer // reused by waitForRoom; poll goroutine only

	storeMu sync.RWMutex // write-held while the consumer closes
	closed  bool         // no more StoreOffsets, no more Lag

	// uncommitted: the offsets stored since the last commit that succeeded,
	// by partition, for the log line of a commit that fails.
	offMu       sync.Mutex
	uncommitted map[int32]int64

	// cp: the checkpoints of Settings.Committer; nil without one.
	cp *checkpoints
}

// New returns a fetcher of s.Topic through c, handing records to d.
func New(c Consumer, d Dispatcher, s Settings) *Fetcher {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	drainCtx, cancel := context.WithCancel(context.Background())
	f := &Fetcher{
		c: c, d: d, set: s, log: s.Log,
		sem:         make(chan struct{}, max(s.Workers, 1)),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		assigned:    make(chan struct{}),
		drainCtx:    drainCtx,
		cancelDrain: cancel,
		parts:       make(map[int32]*partition),
	}
	if s.Committer != nil {
		f.cp = newCheckpoints(s)
	}
	return f
}

// Start subscribes and polls in the background; handlers get contexts
// derived from handlerCtx. Assigned is closed at the first assignment.
func (f *Fetcher) Start(handlerCtx context.Context) error {
	f.handlerCtx = handlerCtx
	if err := f.c.Subscribe(f.set.Topic, f.rebalance); err != nil {
		return fmt.Errorf("subscribe to %s: %w", f.set.Topic, err)
	}
	f.started = true
	go f.poll()
	return nil
}

// Assigned is closed once the group assigned partitions to this member.
func (f *Fetcher) Assigned() <-chan struct{} { return f.assigned }

func (f *Fetcher) poll() {
	defer close(f.done)
	for {
		select {
		case <-f.stop:
			return
		default:
		}
		timeout := 100
		if f.anyPaused() {
			timeout = 10 // notice soon when a paused partition's queue drains
		}
		if f.cp != nil {
			timeout = min(timeout, int(f.cp.untilDue().Milliseconds())+1)
		}
		switch e := f.c.Poll(timeout).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				f.log.Warn("kafka-broker: consume error", "error", e.TopicPartition.Error)
				break
			}
			if f.cp != nil && f.cp.dead {
				break // left uncommitted for the partition's next owner
			}
			f.offer(f.partition(e.TopicPartition.Partition), e)
		case kafka.Error:
			f.logError(e)
		}
		for _, p := range f.parts {
			f.step(p)
		}
		if f.cp != nil && f.cp.due(f.dirty) {
			f.periodicCheckpoint()
		}
	}
}

// isClosing reports whether Settings.Closing is closed.
func (f *Fetcher) isClosing() bool {
	select {
	case <-f.set.Closing:
		return true
	default:
		return false
	}
}

func (f *Fetcher) anyPaused() bool {
	for _, p := range f.parts {
		if p.state != flowing || len(p.held) > 0 {
			return true
		}
	}
	return false
}

func (f *Fetcher) logError(e kafka.Error) {
	if f.set.OnError != nil {
		f.set.OnError(e)
	}
	switch {
	case e.IsFatal():
		f.log.Error("kafka-broker: fatal consumer error", "error", e)
	case e.Code() == kafka.ErrAllBrokersDown || e.Code() == kafka.ErrTransport:
		f.log.Debug("kafka-broker: consumer connection error", "error", e)
	default:
		f.log.Warn("kafka-broker: consumer error", "error", e)
	}
}

// partition returns p's flow control, starting its worker on first use.
func (f *Fetcher) partition(id int32) *partition {
	if p, ok := f.parts[id]; ok {
		return p
	}
	w := newWorker(id, f.set.PartitionQueue)
	p := newPartition(id, w, f.set.PartitionQueue)
	f.mu.Lock()
	f.parts[id] = p
	f.mu.Unlock()
	ctx, cancel := context.WithCancelCause(f.handlerCtx)
	w.cancel = cancel
	go f.run(ctx, w)
	return p
}

// rebalance runs inside Poll (and the consumer's Close). Assigned
// partitions get workers; revoked ones have their in-flight records
// finished (bounded by DrainTimeout), their queued records dropped
// uncommitted for the next owner, and their offsets committed. The client
// library applies the assignment itself after this returns.
func (f *Fetcher) rebalance(ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		if f.closing || (f.cp != nil && f.cp.dead) {
			return nil // no workers while closing
		}
		for _, tp := range e.Partitions {
			f.partition(tp.Partition)
		}
		f.log.Debug("kafka-broker: partitions assigned", "topic", f.set.Topic, "partitions", len(e.Partitions))
		f.once.Do(func() { close(f.assigned) })
	case kafka.RevokedPartitions:
		if f.closing {
			// The consumer's close: Stop stopped every worker and made the
			// last commit already; a commit from here would wait on a group
			// that is being left.
			return nil
		}
		ids := make([]int32, 0, len(e.Partitions))
		for _, tp := range e.Partitions {
			ids = append(ids, tp.Partition)
		}
		f.log.Debug("kafka-broker: partitions revoked; waiting for their handlers", "topic", f.set.Topic,
			"partitions", len(ids), "drain_timeout", f.set.DrainTimeout)
		ctx, cancel := context.WithTimeout(f.drainCtx, f.set.DrainTimeout)
		if f.cp != nil {
			_ = f.stopAndCheckpoint(ctx, ids) // commit or abort what is open before the partitions go
		} else {
			f.stopWorkers(ctx, ids)
			f.commit(ctx)
		}
		cancel()
	}
	return nil
}

// stopWorkers stops the workers of partitions ids and waits, until ctx
// ends, for their handlers and acks.
func (f *Fetcher) stopWorkers(ctx context.Context, ids []int32) error {
	var ws []*worker
	for _, id := range ids {
		p, ok := f.parts[id]
		if !ok {
			continue
		}
		f.release(p)
		f.mu.Lock()
		delete(f.parts, id)
		f.mu.Unlock()
		p.w.drain = ctx
		close(p.w.stop)
		ws = append(ws, p.w)
	}
	for i, w := range ws {
		select {
		case <-w.done:
		case <-ctx.Done():
			f.abandoned = slices.DeleteFunc(f.abandoned, (*worker).finished)
			for _, w := range ws[i:] {
				w.abandon()
				f.abandoned = append(f.abandoned, w)
			}
			return ctx.Err()
		}
	}
	return nil
}

func (f *Fetcher) allPartitions() []int32 {
	ids := make([]int32, 0, len(f.parts))
	for id := range f.parts {
		ids = append(ids, id)
	}
	return ids
}

// store marks the record at tp handled, for the next commit. A worker
// abandoned by a drain stores nothing (its partition may have a new worker,
// or owner), nor does anyone once the consumer closes.
func (f *Fetcher) store(w *worker, tp kafka.TopicPartition) {
	f.storeMu.RLock()
	defer f.storeMu.RUnlock()
	if f.closed || w.abandoned.Load() {
		return
	}
	tp.Offset++
	if f.cp == nil {
		if err := f.c.StoreOffsets([]kafka.TopicPartition{tp}); err != nil {
			f.log.Debug("kafka-broker: store offset", "partition", tp.Partition, "error", err)
			return
		}
	}
	w.next.Store(int64(tp.Offset))
	f.offMu.Lock()
	if f.uncommitted == nil {
		f.uncommitted = make(map[int32]int64)
	}
	f.uncommitted[tp.Partition] = int64(tp.Offset)
	f.offMu.Unlock()
}

// commit commits the stored offsets within ctx; a failure is logged once,
// with the offsets that could not be committed (their records will be
// handled again by the partition's next owner).
func (f *Fetcher) commit(ctx context.Context) {
	err := f.c.Commit(ctx)
	var kerr kafka.Error
	if err != nil && (!errors.As(err, &kerr) || kerr.Code() != kafka.ErrNoOffset) {
		f.offMu.Lock()
		offsets := maps.Clone(f.uncommitted)
		f.offMu.Unlock()
		f.log.Warn("kafka-broker: commit failed; the records before these offsets may be handled again by the next owner of their partitions",
			"topic", f.set.Topic, "offsets", fmt.Sprint(offsets), "error", err)
		return
	}
	f.offMu.Lock()
	clear(f.uncommitted)
	f.offMu.Unlock()
}

// Stop stops polling, waits until ctx ends for the handlers in flight and
// their acks (records not yet started stay uncommitted, for the next
// owner), commits what was handled and closes the consumer. A rebalance the
// poll loop is draining gives up when ctx ends.
func (f *Fetcher) Stop(ctx context.Context) error {
	stopDrain := context.AfterFunc(ctx, f.cancelDrain)
	defer stopDrain()
	close(f.stop)
	if f.started {
		<-f.done
	}
	var errs []error
	if f.cp != nil {
		if err := f.stopAndCheckpoint(ctx, f.allPartitions()); err != nil {
			errs = append(errs, err)
		} else if err := f.waitAbandoned(ctx); err != nil {
			errs = append(errs, fmt.Errorf("handlers still running: %w", err))
		}
	} else {
		err := f.stopWorkers(ctx, f.allPartitions())
		if err == nil {
			err = f.waitAbandoned(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("handlers still running: %w", err))
		}
		f.commit(ctx)
	}
	f.closing = true
	// No StoreOffsets (nor Lag) from here on: a handler still running must
	// not reach the consumer while it is destroyed.
	f.storeMu.Lock()
	f.closed = true
	f.storeMu.Unlock()
	f.mu.Lock()
	clear(f.parts)
	f.mu.Unlock()
	if err := f.c.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close consumer: %w", err))
	}
	f.cancelDrain()
	return errors.Join(errs...)
}

// waitAbandoned waits until ctx ends for the workers a drain gave up on.
func (f *Fetcher) waitAbandoned(ctx context.Context) error {
	for _, w := range f.abandoned {
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// PartitionLag is how far the fetcher is behind on one partition.
type PartitionLag struct {
	Partition int32
	// Lag is the high watermark minus the offset after the last handled
	// record (records queued, held or being handled count as behind).
	Lag int64
}

// Lag reports the lag of each assigned partition whose high watermark is
// known, from the latest fetches (no broker round trip).
func (f *Fetcher) Lag() []PartitionLag {
	f.storeMu.RLock()
	defer f.storeMu.RUnlock()
	if f.closed {
		return nil
	}
	f.mu.Lock()
	ws := make([]*worker, 0, len(f.parts))
	for _, p := range f.parts {
		ws = append(ws, p.w)
	}
	f.mu.Unlock()
	out := make([]PartitionLag, 0, len(ws))
	for _, w := range ws {
		high, ok := f.c.Watermark(f.set.Topic, w.partition)
		if !ok {
			continue
		}
		next := w.next.Load()
		if next < 0 {
			// Nothing polled yet: the consumer's position, where the next
			// fetch starts.
			if next, ok = f.c.Position(f.set.Topic, w.partition); !ok {
				continue
			}
		}
		out = append(out, PartitionLag{Partition: w.partition, Lag: max(high-next, 0)})
	}
	slices.SortFunc(out, func(a, b PartitionLag) int { return int(a.Partition - b.Partition) })
	return out
}
