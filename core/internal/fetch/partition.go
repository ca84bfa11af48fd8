package fetch

import (
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// state is where a partition is in its flow control. Owned by the poll
// goroutine; step moves it on once per poll.
type state uint8

const (
	// flowing: polled records go to the worker's queue, or are held when
	// it is full.
	flowing state = iota
	// paused: the queue and the hold are full; librdkafka fetches nothing
	// of the partition. Nothing polled was dropped: fetching resumes after
	// the last held record.
	paused
	// readingAhead: paused for queueing, but fetched while requests await
	// replies: a reply is handed to its waiter at once (and remembered as
	// taken), anything else is skipped and read again afterwards from
	// rewindTo.
	readingAhead
)

func (s state) String() string {
	return [...]string{"flowing", "paused", "reading ahead"}[s]
}

// partition is the flow control of one assigned partition.
type partition struct {
	id    int32
	w     *worker
	state state
	// held: polled records waiting for room in the worker's queue, at most
	// holdMax (a few more may come from librdkafka's buffer as it pauses).
	held    []queued
	holdMax int
	// rewindTo is the first record skipped while reading ahead, where
	// fetching starts again when read-ahead ends; -1 when nothing was
	// skipped. seekOwed: the Seek there failed and is retried first.
	rewindTo kafka.Offset
	seekOwed bool
	// taken: replies handed to their waiters while reading ahead; when
	// fetched again they are queued as taken, so only their offsets are
	// stored.
	taken map[kafka.Offset]struct{}
}

// queued is a record on its way to the worker.
type queued struct {
	msg *kafka.Message
	// taken: a reply already handed to its waiter; the worker only stores
	// its offset, in order.
	taken bool
}

func newPartition(id int32, w *worker, holdMax int) *partition {
	return &partition{id: id, w: w, holdMax: max(holdMax, 1), rewindTo: -1}
}

// offer takes a polled record of the partition.
func (f *Fetcher) offer(p *partition, msg *kafka.Message) {
	off := msg.TopicPartition.Offset
	p.w.next.CompareAndSwap(-1, int64(off)) // the first record not handled yet, for Lag
	f.noteStart(p.id, off)
	if p.state == readingAhead {
		if _, ok := p.taken[off]; ok {
			p.skip(off)
			return
		}
		if f.d.TakeEarly(msg) {
			p.markTaken(off)
		}
		p.skip(off)
		return
	}
	_, taken := p.taken[off]
	if taken {
		delete(p.taken, off)
	} else {
		taken = f.d.TakeEarly(msg)
	}
	p.forgetTakenBefore(off)
	q := queued{msg: msg, taken: taken}
	if len(p.held) == 0 && p.w.tryQueue(q) {
		return
	}
	p.held = append(p.held, q)
	if p.state == flowing && len(p.held) >= p.holdMax && !f.waitForRoom(p) {
		f.pause(p)
	}
}

// queueFullWait is how long the poll loop waits for room in a full queue
// before it pauses the partition: a backlog behind fast handlers never
// pauses (a pause makes librdkafka drop what it fetched ahead, and fetch it
// again after the resume), a stuck handler does not hold up the other
// partitions long.
const queueFullWait = 20 * time.Millisecond

// waitForRoom waits up to queueFullWait for the worker to take a held
// record; it reports whether it did.
func (f *Fetcher) waitForRoom(p *partition) bool {
	if f.fullTimer == nil {
		f.fullTimer = time.NewTimer(queueFullWait)
	} else {
		f.fullTimer.Reset(queueFullWait)
	}
	defer f.fullTimer.Stop()
	select {
	case p.w.queue <- p.held[0]:
		p.held[0] = queued{}
		p.held = p.held[1:]
		return true
	case <-f.fullTimer.C:
		return false
	case <-f.stop:
		return true // stopping: no pause
	}
}

// skip notes a record read ahead and not queued: fetching starts again at
// the first one skipped.
func (p *partition) skip(off kafka.Offset) {
	if p.rewindTo < 0 || off < p.rewindTo {
		p.rewindTo = off
	}
}

func (p *partition) markTaken(off kafka.Offset) {
	if p.taken == nil {
		p.taken = make(map[kafka.Offset]struct{})
	}
	p.taken[off] = struct{}{}
}

// forgetTakenBefore drops taken offsets the partition has moved past (a
// rewind that did not reach back to them).
func (p *partition) forgetTakenBefore(off kafka.Offset) {
	for o := range p.taken {
		if o < off {
			delete(p.taken, o)
		}
	}
}

// step moves the partition's flow control on: held records into the queue
// as it drains, and a paused partition to flowing (its queue is down to
// half), to reading ahead (requests await replies) or back.
func (f *Fetcher) step(p *partition) {
	for len(p.held) > 0 && p.w.tryQueue(p.held[0]) {
		p.held[0] = queued{}
		p.held = p.held[1:]
	}
	if p.state == flowing {
		return
	}
	if p.seekOwed && !f.rewind(p) {
		return
	}
	drained := len(p.held) == 0 && p.w.queueLen() <= p.w.queueCap()/2
	switch {
	case drained:
		f.flow(p)
	case p.state == paused && f.d.Awaiting():
		if err := f.c.Resume(f.tp(p, 0)); err != nil {
			f.log.Warn("kafka-broker: read ahead on paused partition", "partition", p.id, "error", err)
			return
		}
		p.state = readingAhead
	case p.state == readingAhead && !f.d.Awaiting():
		f.pause(p)
		f.rewind(p)
	}
}

// pause stops fetching the partition; what was polled stays held.
func (f *Fetcher) pause(p *partition) {
	if err := f.c.Pause(f.tp(p, 0)); err != nil {
		// Fetching goes on; offer keeps holding, step retries.
		f.log.Warn("kafka-broker: pause partition", "partition", p.id, "error", err)
		return
	}
	p.state = paused
	f.log.Debug("kafka-broker: partition paused; its queue is full", "partition", p.id, "held", len(p.held))
}

// rewind makes fetching start again where read-ahead skipped the first
// record. It reports false when the Seek failed (retried on the next step).
func (f *Fetcher) rewind(p *partition) bool {
	if p.rewindTo < 0 {
		p.seekOwed = false
		return true
	}
	if err := f.c.Seek(kafka.TopicPartition{Topic: &f.set.Topic, Partition: p.id, Offset: p.rewindTo}); err != nil {
		f.log.Warn("kafka-broker: rewind partition after read-ahead", "partition", p.id, "offset", int64(p.rewindTo), "error", err)
		p.seekOwed = true
		return false
	}
	p.rewindTo, p.seekOwed = -1, false
	return true
}

// flow queues the partition's records again.
func (f *Fetcher) flow(p *partition) {
	switch p.state {
	case readingAhead:
		if !f.rewind(p) {
			return
		}
	case paused:
		if err := f.c.Resume(f.tp(p, 0)); err != nil {
			f.log.Warn("kafka-broker: resume partition", "partition", p.id, "error", err)
			return
		}
	}
	p.state = flowing
}

// release undoes the pause of a revoked partition: a pause must not
// outlive the assignment.
func (f *Fetcher) release(p *partition) {
	if p.state == paused {
		if err := f.c.Resume(f.tp(p, 0)); err != nil {
			f.log.Debug("kafka-broker: resume revoked partition", "partition", p.id, "error", err)
		}
	}
	p.state, p.held, p.taken, p.rewindTo, p.seekOwed = flowing, nil, nil, -1, false
}

func (f *Fetcher) tp(p *partition, off kafka.Offset) []kafka.TopicPartition {
	return []kafka.TopicPartition{{Topic: &f.set.Topic, Partition: p.id, Offset: off}}
}
