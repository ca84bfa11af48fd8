package fetch

import (
	"context"
	"sync/atomic"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// worker handles one partition's records in order, on its own goroutine,
// and stores their offsets in order as their acks come in.
type worker struct {
	partition int32
	queue     chan queued
	stop      chan struct{} // closed: take no more records
	done      chan struct{} // closed when the goroutine returned
	// drain bounds the wait for acks after stop; set before stop is closed.
	drain context.Context
	// abandoned: a drain gave up waiting; the partition may have a new
	// worker or owner, so this one stores nothing more.
	abandoned atomic.Bool
	// cancel ends the ctx of the worker's handlers (cause ErrAbandoned once
	// abandoned); run calls it when it returns.
	cancel context.CancelCauseFunc
	// next is the first offset not handled yet: after the last stored, or
	// the first polled (-1: none yet), for Lag.
	next atomic.Int64

	inflight []pendingOffset // handled records waiting for their acks, oldest first

	// With a Committer (checkpoint.go): sync takes a checkpoint's request
	// to be told once inflight is empty (syncers wait for it); dirty: a
	// record was handed to the dispatcher since the last commit; failed: a
	// record's handling or acks failed.
	sync    chan chan struct{}
	syncers []chan struct{}
	dirty   atomic.Bool
	failed  atomic.Bool
}

// abandon marks w given up on: it stores nothing more, and its handler's
// ctx ends with cause ErrAbandoned, so that a handler still running neither
// sends into a later transaction nor dead-letters a record handled again.
func (w *worker) abandon() {
	w.abandoned.Store(true)
	w.cancel(ErrAbandoned)
}

type pendingOffset struct {
	tp   kafka.TopicPartition
	acks Acks // nil: nothing to wait for
}

func newWorker(partition int32, queue int) *worker {
	w := &worker{
		partition: partition,
		queue:     make(chan queued, max(queue, 1)),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		sync:      make(chan chan struct{}),
	}
	w.next.Store(-1)
	return w
}

func (w *worker) tryQueue(q queued) bool {
	select {
	case w.queue <- q:
		return true
	default:
		return false
	}
}

func (w *worker) queueLen() int { return len(w.queue) }
func (w *worker) queueCap() int { return cap(w.queue) }

func (w *worker) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *worker) finished() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// run handles the worker's records until stop, then waits (bounded by
// drain) for the acks of those it handled.
func (f *Fetcher) run(ctx context.Context, w *worker) {
	defer close(w.done)
	defer w.cancel(nil)
	maxInflight := cap(w.queue)
	closing, quitting := f.set.Closing, false
	for {
		var head <-chan struct{}
		if len(w.inflight) > 0 {
			head = w.inflight[0].done()
		}
		queue := w.queue
		if len(w.inflight) >= maxInflight || quitting {
			queue = nil // wait for acks before taking more; or shutting down
		}
		select {
		case <-w.stop:
			f.settleAll(w.drain, w)
			return
		case <-closing:
			closing, quitting = nil, true // take no more records; wait for stop
		case <-head:
			if !f.settle(w) {
				return
			}
		case r := <-w.sync:
			w.syncers = append(w.syncers, r)
			w.answer()
		case q := <-queue:
			// Once the partition is revoked or the fetcher stops, records not
			// yet started stay uncommitted, for the next owner.
			if w.stopped() {
				f.settleAll(w.drain, w)
				return
			}
			if f.isClosing() {
				// Not stopped yet: w.drain is not set; Stop's ctx bounds it.
				f.settleAll(f.drainCtx, w)
				return
			}
			if q.taken {
				w.inflight = append(w.inflight, pendingOffset{tp: q.msg.TopicPartition})
			} else if !f.handle(ctx, w, q.msg) {
				// Stopping: neither this record nor later ones are committed;
				// what finished before it is stored.
				f.settle(w)
				return
			}
			if !f.settle(w) {
				return
			}
		}
	}
}

// handle runs the dispatcher on msg within the Workers bound (and, with a
// Committer, once the gate admits it).
func (f *Fetcher) handle(ctx context.Context, w *worker, msg *kafka.Message) bool {
	if f.cp != nil {
		if !f.admit(w) {
			return false
		}
		defer f.cp.gate.leave()
	}
	select {
	case <-w.stop:
		return false
	case <-f.set.Closing:
		return false
	case f.sem <- struct{}{}:
	}
	acks, ok := f.d.Handle(ctx, msg)
	<-f.sem
	if !ok {
		if !w.abandoned.Load() { // an abandoned worker's partition is aborted already
			f.fail(w) // it may have sent something: with a Committer, abort
		}
		return false
	}
	w.inflight = append(w.inflight, pendingOffset{tp: msg.TopicPartition, acks: acks})
	return true
}

func (p pendingOffset) done() <-chan struct{} {
	if p.acks == nil {
		return closedChan
	}
	return p.acks.Done()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// settle stores the offsets of the finished records at the head of
// inflight. It reports false when a record's sends failed for good: its
// offset, and those after it, are never stored.
func (f *Fetcher) settle(w *worker) bool {
	n := 0
	var last kafka.TopicPartition
	for _, p := range w.inflight {
		select {
		case <-p.done():
		default:
			goto store
		}
		if p.acks != nil && p.acks.Err() != nil {
			f.log.Warn("kafka-broker: a handler's sends failed; its record stays uncommitted",
				"partition", w.partition, "offset", int64(p.tp.Offset), "error", p.acks.Err())
			if n > 0 {
				f.store(w, last)
			}
			w.inflight = w.inflight[n:]
			f.fail(w)
			return false
		}
		last = p.tp
		n++
	}
store:
	if n > 0 {
		f.store(w, last)
		clear(w.inflight[:n])
		w.inflight = w.inflight[n:]
	}
	w.answer()
	return true
}

// answer tells the checkpoints waiting on w that every record it handled
// is settled, once it is.
func (w *worker) answer() {
	if len(w.inflight) > 0 || len(w.syncers) == 0 {
		return
	}
	for _, r := range w.syncers {
		close(r)
	}
	w.syncers = nil
}

// settleAll waits, until drain ends, for the acks of the records w
// handled, storing their offsets as they come.
func (f *Fetcher) settleAll(drain context.Context, w *worker) {
	for len(w.inflight) > 0 {
		select {
		case <-w.inflight[0].done():
			if !f.settle(w) {
				return
			}
		case <-drain.Done():
			return
		}
	}
}
