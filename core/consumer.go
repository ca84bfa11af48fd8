package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// groupConsumer reads the Location topic as a member of GroupID. One
// goroutine polls; each assigned partition has a worker goroutine that
// handles its records in order, so partitions are handled concurrently and
// order is kept within each. An offset is stored for commit only after its
// record was handled.
type groupConsumer struct {
	m        *Manager
	c        *kafka.Consumer
	sem      chan struct{} // bounds handlers running at once (Config.Workers)
	stop     chan struct{} // closed to stop fetching
	done     chan struct{} // poll loop ended
	assigned chan struct{} // closed at the first assignment
	once     sync.Once
	started  bool // poll runs
	closing  bool // set before Consumer.Close, which runs rebalance on the closing goroutine

	workers map[int32]*partitionWorker // owned by the poll goroutine, then by Close
	paused  map[int32]*partitionWorker // partitions paused because their queue was full

	// drainCtx bounds waits for handlers of revoked partitions; Close
	// cancels it when its own ctx ends.
	drainCtx    context.Context
	cancelDrain context.CancelFunc

	fullTimer *time.Timer // reused by enqueue; poll goroutine only

	storeMu sync.RWMutex // write-held while the consumer closes
	closed  bool         // no more StoreOffsets

	// abandoned: workers a rebalance stopped waiting for; Close waits for
	// them too. Poll goroutine, then Close.
	abandoned []*partitionWorker
}

// queued is a fetched record waiting for its partition's worker.
type queued struct {
	msg *kafka.Message
	// taken: the record was a reply already handed to its waiter by the
	// poll loop; the worker only stores its offset, in order.
	taken bool
}

type partitionWorker struct {
	partition int32
	queue     chan queued
	stop      chan struct{} // closed: do not start another record
	done      chan struct{}
	paused    bool // owned by the poll goroutine
	// readAhead: paused, but still fetched, only to hand replies to their
	// waiters (see pause); resumeAt: the first record not queued.
	readAhead bool
	resumeAt  kafka.Offset
	// rewindPending: a Seek back to resumeAt failed; it is retried before
	// the partition is fetched for queueing again.
	rewindPending bool
	// awaiting counts Requests made by this partition's handlers that wait
	// for replies; ctx, the parent of its handlers' contexts, carries it.
	awaiting atomic.Int32
	ctx      context.Context
	// rewoundTaken: offsets of replies handed to their waiter by the poll
	// loop that then did not fit the queue and were rewound; when fetched
	// again they are queued as taken, not handled a second time. Poll
	// goroutine only.
	rewoundTaken map[kafka.Offset]struct{}
	abandoned    atomic.Bool // its handler outlived a drain: store no offsets
}

func (m *Manager) newGroupConsumer() (*groupConsumer, error) {
	cc := m.clientConfig(kafka.ConfigMap{
		"group.id":                 m.cfg.GroupID,
		"auto.offset.reset":        "earliest",
		"enable.auto.commit":       true,
		"enable.auto.offset.store": false,
		"auto.commit.interval.ms":  1000,
		"fetch.wait.max.ms":        100,
	})
	c, err := kafka.NewConsumer(cc)
	if err != nil {
		return nil, fmt.Errorf("kafka-broker: create consumer: %w", err)
	}
	drainCtx, cancelDrain := context.WithCancel(context.Background())
	return &groupConsumer{
		drainCtx:    drainCtx,
		cancelDrain: cancelDrain,
		m:           m,
		c:           c,
		sem:         make(chan struct{}, m.cfg.Workers),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		assigned:    make(chan struct{}),
		workers:     make(map[int32]*partitionWorker),
		paused:      make(map[int32]*partitionWorker),
	}, nil
}

func (g *groupConsumer) start() error {
	if err := g.c.SubscribeTopics([]string{g.m.cfg.Location}, g.rebalance); err != nil {
		return fmt.Errorf("kafka-broker: subscribe to %s: %w", g.m.cfg.Location, err)
	}
	g.started = true
	go g.poll()
	return nil
}

func (g *groupConsumer) poll() {
	defer close(g.done)
	for {
		select {
		case <-g.stop:
			return
		default:
		}
		timeout := 100
		if len(g.paused) > 0 {
			timeout = 10 // notice soon when a paused partition's queue drains
		}
		switch e := g.c.Poll(timeout).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				g.m.log.Warn("kafka-broker: consume error", "error", e.TopicPartition.Error)
				continue
			}
			w := g.worker(e.TopicPartition.Partition)
			off := e.TopicPartition.Offset
			if w.paused {
				// Fetched before the pause, or read ahead: only a reply is
				// taken now; everything is read again after the resume.
				if w.readAhead && off >= w.resumeAt && g.m.takeReplyEarly(e) {
					w.markTaken(off)
				}
				continue
			}
			_, taken := w.rewoundTaken[off]
			if !taken {
				taken = g.m.takeReplyEarly(e)
			}
			if !g.enqueue(w, queued{msg: e, taken: taken}) {
				if taken {
					w.markTaken(off)
				}
				g.pause(w, e.TopicPartition)
			} else {
				for o := range w.rewoundTaken {
					if o <= off { // fetched again, or skipped past
						delete(w.rewoundTaken, o)
					}
				}
			}
		case kafka.Error:
			g.logError(e)
		}
		g.resumeDrained()
	}
}

// queueFullWait is how long the poll loop waits for room in a full
// partition queue before it pauses the partition: a backlog behind fast
// handlers never pauses, a stuck handler does not hold up the others long.
const queueFullWait = 20 * time.Millisecond

// enqueue hands q to w, waiting up to queueFullWait for room.
func (g *groupConsumer) enqueue(w *partitionWorker, q queued) bool {
	select {
	case w.queue <- q:
		return true
	default:
	}
	if g.fullTimer == nil {
		g.fullTimer = time.NewTimer(queueFullWait)
	} else {
		g.fullTimer.Reset(queueFullWait)
	}
	defer g.fullTimer.Stop()
	select {
	case w.queue <- q:
		return true
	case <-g.fullTimer.C:
		return false
	case <-g.stop:
		return false
	}
}

// finished reports whether w's goroutine has returned.
func (w *partitionWorker) finished() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// markTaken remembers that the record at off was a reply handed to its
// waiter before it was queued.
func (w *partitionWorker) markTaken(off kafka.Offset) {
	if w.rewoundTaken == nil {
		w.rewoundTaken = make(map[kafka.Offset]struct{})
	}
	w.rewoundTaken[off] = struct{}{}
}

// pause stops queueing a partition whose queue is full, so a slow partition
// does not hold up the others; tp is the first record that did not fit, where
// the partition is read again after the resume. While a handler of this
// partition awaits a reply, the partition is read ahead instead of paused in
// librdkafka: a reply written behind the full queue (a Python service
// answering on the Location topic, to the very handler that holds the queue
// up) still reaches it. Otherwise fetching stops.
func (g *groupConsumer) pause(w *partitionWorker, tp kafka.TopicPartition) {
	w.paused = true
	w.resumeAt = tp.Offset
	g.paused[w.partition] = w
	readAhead := w.awaiting.Load() > 0
	g.m.log.Debug("kafka-broker: partition paused; its queue is full", "partition", tp.Partition,
		"offset", int64(tp.Offset), "read_ahead", readAhead)
	if readAhead {
		w.readAhead = true
		return
	}
	g.stopFetching(w)
}

// stopFetching pauses w's partition in librdkafka at w.resumeAt. Should the
// pause fail, the partition goes on being read ahead.
func (g *groupConsumer) stopFetching(w *partitionWorker) {
	if err := g.c.Pause([]kafka.TopicPartition{{Topic: &g.m.cfg.Location, Partition: w.partition}}); err != nil {
		g.m.log.Warn("kafka-broker: pause partition", "partition", w.partition, "error", err)
		w.readAhead = true
		return
	}
	w.readAhead = false
	g.rewind(w)
}

// rewind makes librdkafka fetch w's partition from w.resumeAt again (records
// fetched before are dropped by librdkafka). A failure is retried before the
// partition's records are queued again: fetching on from elsewhere would skip
// records.
func (g *groupConsumer) rewind(w *partitionWorker) bool {
	tp := kafka.TopicPartition{Topic: &g.m.cfg.Location, Partition: w.partition, Offset: w.resumeAt}
	if err := g.c.Seek(tp, 0); err != nil {
		g.m.log.Warn("kafka-broker: rewind paused partition", "partition", tp.Partition, "offset", int64(tp.Offset), "error", err)
		w.rewindPending = true
		return false
	}
	w.rewindPending = false
	return true
}

// resumeDrained resumes paused partitions whose queue is down to half, and
// switches the others between reading ahead (while one of their handlers
// awaits a reply) and not fetching.
func (g *groupConsumer) resumeDrained() {
	for p, w := range g.paused {
		if len(w.queue) <= cap(w.queue)/2 {
			g.resume(p)
			continue
		}
		switch awaiting := w.awaiting.Load() > 0; {
		case awaiting && !w.readAhead:
			if w.rewindPending && !g.rewind(w) {
				continue
			}
			if err := g.c.Resume([]kafka.TopicPartition{{Topic: &g.m.cfg.Location, Partition: p}}); err != nil {
				g.m.log.Warn("kafka-broker: read ahead on paused partition", "partition", p, "error", err)
				continue
			}
			w.readAhead = true // librdkafka fetches from resumeAt, where it was rewound
		case !awaiting && w.readAhead:
			g.stopFetching(w)
		}
	}
}

// resume queues the partition's records again, from where they stopped
// fitting. Until a failed rewind succeeds, the partition stays paused.
func (g *groupConsumer) resume(p int32) {
	w, ok := g.paused[p]
	if !ok {
		return
	}
	if (w.readAhead || w.rewindPending) && !g.rewind(w) {
		return
	}
	g.unpause(w)
}

// forget drops the pause of a revoked partition: one paused in librdkafka
// is resumed, as a pause must not outlive the assignment.
func (g *groupConsumer) forget(p int32) {
	if w, ok := g.paused[p]; ok {
		w.rewindPending = false
		g.unpause(w)
	}
}

// unpause marks w fetched and queued again; a partition paused in
// librdkafka is resumed there.
func (g *groupConsumer) unpause(w *partitionWorker) {
	delete(g.paused, w.partition)
	w.paused = false
	if w.readAhead {
		w.readAhead = false
		return
	}
	if err := g.c.Resume([]kafka.TopicPartition{{Topic: &g.m.cfg.Location, Partition: w.partition}}); err != nil {
		g.m.log.Warn("kafka-broker: resume partition", "partition", w.partition, "error", err)
	}
}

func (g *groupConsumer) logError(e kafka.Error) {
	g.m.noteJoinError(e) // not authorized, wrong credentials: ends a start at once
	switch {
	case e.IsFatal():
		g.m.log.Error("kafka-broker: fatal consumer error", "error", e)
	case e.Code() == kafka.ErrAllBrokersDown || e.Code() == kafka.ErrTransport:
		g.m.log.Debug("kafka-broker: consumer connection error", "error", e)
	default:
		g.m.log.Warn("kafka-broker: consumer error", "error", e)
	}
}

// rebalance runs inside Poll (and Close). Assigned partitions get workers;
// revoked ones have their in-flight record finished (bounded by
// DrainTimeout), their queued records dropped uncommitted for the next
// owner, and their offsets committed. confluent-kafka-go applies the
// assignment itself after this returns.
func (g *groupConsumer) rebalance(c *kafka.Consumer, ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		if g.closing {
			// Consumer.Close can still deliver an assignment; no workers for it.
			return nil
		}
		for _, tp := range e.Partitions {
			g.worker(tp.Partition)
		}
		g.m.log.Debug("kafka-broker: partitions assigned", "topic", g.m.cfg.Location, "partitions", len(e.Partitions))
		g.once.Do(func() { close(g.assigned) })
	case kafka.RevokedPartitions:
		ps := make([]int32, 0, len(e.Partitions))
		for _, tp := range e.Partitions {
			ps = append(ps, tp.Partition)
			g.forget(tp.Partition) // a pause must not outlive the assignment
		}
		g.m.log.Debug("kafka-broker: partitions revoked; waiting for their handlers", "topic", g.m.cfg.Location,
			"partitions", len(e.Partitions), "drain_timeout", g.m.cfg.DrainTimeout)
		ctx, cancel := context.WithTimeout(g.drainCtx, g.m.cfg.DrainTimeout)
		g.stopWorkers(ctx, ps)
		cancel()
		g.commit()
		g.m.log.Debug("kafka-broker: partitions revoked", "topic", g.m.cfg.Location, "partitions", len(e.Partitions))
	}
	return nil
}

func (g *groupConsumer) worker(p int32) *partitionWorker {
	if w, ok := g.workers[p]; ok {
		return w
	}
	w := &partitionWorker{
		partition: p,
		queue:     make(chan queued, g.m.cfg.PartitionQueue),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	w.ctx = context.WithValue(g.m.handlerCtx, awaitingKey{}, &w.awaiting)
	g.workers[p] = w
	go g.run(w)
	return w
}

// stopWorkers stops the workers of partitions ps (all when ps is nil) and
// waits for their in-flight records until ctx ends.
func (g *groupConsumer) stopWorkers(ctx context.Context, ps []int32) error {
	var ws []*partitionWorker
	if ps == nil {
		for p := range g.workers {
			ps = append(ps, p)
		}
	}
	for _, p := range ps {
		if w, ok := g.workers[p]; ok {
			close(w.stop)
			delete(g.workers, p)
			ws = append(ws, w)
		}
	}
	for i, w := range ws {
		select {
		case <-w.done:
		case <-ctx.Done():
			g.abandoned = slices.DeleteFunc(g.abandoned, (*partitionWorker).finished)
			for _, w := range ws[i:] {
				w.abandoned.Store(true)
				g.abandoned = append(g.abandoned, w)
			}
			return ctx.Err()
		}
	}
	return nil
}

// waitAbandoned waits until ctx ends for the handlers a rebalance abandoned.
func (g *groupConsumer) waitAbandoned(ctx context.Context) error {
	for _, w := range g.abandoned {
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *groupConsumer) commit() {
	if _, err := g.c.Commit(); err != nil {
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Code() == kafka.ErrNoOffset {
			return
		}
		g.m.log.Warn("kafka-broker: commit failed", "error", err)
	}
}

func (g *groupConsumer) run(w *partitionWorker) {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-g.m.closing:
			return
		case q := <-w.queue:
			// Once the partition is revoked or Close began, records not yet
			// started stay uncommitted, for the next owner.
			select {
			case <-w.stop:
				return
			case <-g.m.closing:
				return
			default:
			}
			if q.taken {
				g.m.stats.consumed.Add(1)
				g.m.stats.handled.Add(1)
				g.storeOffset(w, q.msg.TopicPartition)
				continue
			}
			select {
			case <-w.stop:
				return
			case <-g.m.closing:
				return
			case g.sem <- struct{}{}:
			}
			ok := g.m.handleRecord(w.ctx, q.msg)
			<-g.sem
			if !ok {
				// Shutting down before the record was handled: leave it
				// uncommitted and stop, so nothing after it is committed.
				return
			}
			g.storeOffset(w, q.msg.TopicPartition)
		}
	}
}

// storeOffset marks the record at tp handled, for the next commit. A worker
// abandoned by a drain that timed out stores nothing (its partition may have
// a new worker, or owner), nor does anyone once the consumer closes.
func (g *groupConsumer) storeOffset(w *partitionWorker, tp kafka.TopicPartition) {
	g.storeMu.RLock()
	defer g.storeMu.RUnlock()
	if g.closed || w.abandoned.Load() {
		return
	}
	tp.Offset++
	if _, err := g.c.StoreOffsets([]kafka.TopicPartition{tp}); err != nil {
		g.m.log.Debug("kafka-broker: store offset", "partition", tp.Partition, "error", err)
	}
}

// takeReplyEarly hands a record that is a reply awaited by a Request to its
// waiter at once, on the poll goroutine, so the reply does not queue behind
// a handler of the same partition (perhaps the very one waiting for it).
func (m *Manager) takeReplyEarly(msg *kafka.Message) bool {
	if len(msg.Key) == 0 || !m.pending.has(string(msg.Key)) {
		return false
	}
	ev, err := decodeRecord(msg, m.cfg.MaxRecordBytes)
	if err != nil || !m.mayBeReply(ev) {
		return false
	}
	return m.deliverReply(ev)
}

// deliverReply hands ev to the Request awaiting it and remembers that the
// request was answered, so that another reply to it (a responder that
// replied twice, a record read again) is told from a late one.
func (m *Manager) deliverReply(ev *EventObject) bool {
	if !m.pending.deliver(ev) {
		return false
	}
	m.sent.add(ev.CorrelationID, sentAnswered)
	return true
}

// mayBeReply reports whether ev, read from the Location topic, can be the
// reply to a request of this service: a Go request (it names a reply topic)
// is not, nor is an event still pending whose last hop is this service (a
// request it sent to itself).
func (m *Manager) mayBeReply(ev *EventObject) bool {
	if ev.meta != nil && ev.meta.replyTopic != "" {
		return false
	}
	n := len(ev.AuditLog)
	return n == 0 || ev.AuditLog[n-1].Location != m.cfg.Location || ev.Status == StatusCompleted
}

// handleRecord decodes and dispatches one record of the Location topic. It
// reports false when the manager is shutting down before the record was
// handled, which leaves it uncommitted.
func (m *Manager) handleRecord(base context.Context, msg *kafka.Message) bool {
	m.stats.consumed.Add(1)
	received := time.Now()
	ev, err := decodeRecordAt(msg, m.cfg.MaxRecordBytes, received)
	if err != nil {
		var me *MalformedError
		kind := MalformedNotJSON
		if errors.As(err, &me) {
			kind = me.Kind
		}
		m.stats.malformed[malformedIndex(kind)].Add(1)
		m.log.Warn("kafka-broker: malformed record", "topic", *msg.TopicPartition.Topic,
			"partition", msg.TopicPartition.Partition, "offset", int64(msg.TopicPartition.Offset),
			"kind", kind, "error", err)
		return m.deadLetter(msg, err, kind, 0)
	}
	r := m.router.Load()
	if m.mayBeReply(ev) {
		// It may be a reply (from a Python responder, or a Go one without
		// reply topic) to something this service asked.
		if m.takeReply(ev) {
			m.stats.handled.Add(1)
			return true
		}
		if m.isOwnReply(ev, r) {
			if done, ok := m.reclaimReply(msg, ev); done {
				if ok {
					m.stats.handled.Add(1)
				}
				return ok
			}
		}
	}
	if r == nil {
		m.storage.put(ev)
		m.stats.stored.Add(1)
		m.stats.handled.Add(1)
		return true
	}
	name, id := ev.Event, ev.CorrelationID // the handler may change ev
	ctx, span := m.startProcess(base, msg)
	attempts, err := m.runHandler(ctx, r, ev, msg, received)
	endSpan(span, err)
	if err == nil {
		m.stats.handled.Add(1)
		return true
	}
	if m.shuttingDown() && !errors.Is(err, ErrNoRoute) {
		// Failed while Close drains (a Request it made got ErrClosed, say):
		// leave it uncommitted for the next owner rather than dead-letter it.
		return false
	}
	kind := "handler"
	if errors.Is(err, ErrNoRoute) {
		kind = "no_route"
	}
	m.log.Error("kafka-broker: event failed, dead-lettering", "event", name,
		"correlation_id", id, "attempts", attempts, "error", err)
	return m.deadLetter(msg, err, kind, attempts)
}

// takeReply hands ev to a Request or ConsumerStorage.Consume awaiting it.
func (m *Manager) takeReply(ev *EventObject) bool {
	return m.deliverReply(ev) || m.storage.deliver(ev)
}

func (m *Manager) shuttingDown() bool {
	return m.state.Load() >= stateClosing || m.handlerCtx.Err() != nil
}

// isOwnReply reports whether ev is a reply to this service that no handler
// of r takes: its first hop left from this Location, its last hop from
// another one, it is marked as a reply (status "completed", or the Python
// package's event "respond"), and r, if set, has no route for it.
func (m *Manager) isOwnReply(ev *EventObject, r *EventRouter) bool {
	n := len(ev.AuditLog)
	if n < 2 || ev.AuditLog[0].Location != m.cfg.Location || ev.AuditLog[n-1].Location == m.cfg.Location {
		return false
	}
	if ev.Status != StatusCompleted && ev.Event != "respond" {
		return false
	}
	if r != nil {
		if _, ok := r.Match(ev.Event); ok {
			return false
		}
	}
	return true
}

// reclaimReply deals with a reply that arrived on the Location topic with no
// local waiter. done reports whether it was dealt with; ok whether that
// succeeded.
func (m *Manager) reclaimReply(msg *kafka.Message, ev *EventObject) (done, ok bool) {
	switch kind, sent := m.sent.lookup(ev.CorrelationID); {
	case sent && kind == sentByRequest:
		m.lateReply(ev)
		return true, true
	case sent && kind == sentAnswered:
		m.duplicateReply(ev)
		return true, true
	case sent:
		return false, false // sent with Produce: store or route it as usual
	}
	// Another instance of this service sent it: forward it, once, to the
	// reply topic that every instance reads.
	shared := m.sharedReplyTopic()
	fwd := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &shared, Partition: kafka.PartitionAny},
		Key:            msg.Key,
		Value:          msg.Value,
		Headers:        append(append([]kafka.Header(nil), msg.Headers...), kafka.Header{Key: HeaderForwarded, Value: []byte(m.cfg.Location)}),
	}
	if err := m.produceUntilDone(fwd); err != nil {
		if errors.Is(err, errShuttingDown) {
			return true, false
		}
		m.log.Error("kafka-broker: cannot forward reply; handling it here", "correlation_id", ev.CorrelationID, "error", err)
		return false, false
	}
	m.stats.forwarded.Add(1)
	return true, true
}

// duplicateReply drops another reply to a Request that already got one.
func (m *Manager) duplicateReply(ev *EventObject) {
	m.stats.duplicateReplies.Add(1)
	m.log.Debug("kafka-broker: duplicate reply dropped", "correlation_id", ev.CorrelationID, "event", ev.Event)
}

func (m *Manager) lateReply(ev *EventObject) {
	m.stats.lateReplies.Add(1)
	m.log.Info("kafka-broker: late reply", "correlation_id", ev.CorrelationID, "event", ev.Event)
	if m.opts.lateReply != nil {
		m.opts.lateReply(ev)
	}
}

// runHandler runs the routed handler with retries and exponential backoff.
func (m *Manager) runHandler(ctx context.Context, r *EventRouter, ev *EventObject, msg *kafka.Message, received time.Time) (int, error) {
	name := ev.Event
	h, ok := r.Match(name)
	if !ok {
		m.stats.noRoute.Add(1)
		return 0, Permanent(fmt.Errorf("%w %q", ErrNoRoute, name))
	}
	// The first attempt runs without the retry machinery: it is the common
	// case. Retries get a fresh decode of the record, received at the same
	// time, as the handler may have changed the event it was given (decoding
	// again only on a retry spares every record a deep copy).
	err := m.callHandler(ctx, h, ev)
	if err == nil {
		return 1, nil
	}
	m.stats.handlerErrors.Add(1)
	if m.cfg.MaxAttempts <= 1 || IsPermanent(err) || errors.Is(err, ErrReplyTopicNotAllowed) || m.shuttingDown() {
		return 1, err
	}
	m.log.Debug("kafka-broker: handler failed", "event", name, "attempt", 1, "error", err)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = m.cfg.InitialBackoff
	b.MaxInterval = m.cfg.MaxBackoff
	attempts := 1
	first := true
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		if first {
			first = false // the attempt above; Retry waits before calling again
			return struct{}{}, err
		}
		attempts++
		m.stats.retries.Add(1)
		fresh, err := decodeRecordAt(msg, m.cfg.MaxRecordBytes, received)
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		err = m.callHandler(ctx, h, fresh)
		if err == nil {
			return struct{}{}, nil
		}
		m.stats.handlerErrors.Add(1)
		if IsPermanent(err) || errors.Is(err, ErrReplyTopicNotAllowed) || m.shuttingDown() {
			return struct{}{}, backoff.Permanent(err)
		}
		m.log.Debug("kafka-broker: handler failed", "event", name, "attempt", attempts, "error", err)
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(m.cfg.MaxAttempts)), backoff.WithMaxElapsedTime(0))
	return attempts, err
}

// callHandler runs h, turning a panic into an error.
func (m *Manager) callHandler(ctx context.Context, h HandlerFunc, ev *EventObject) (err error) {
	defer func() {
		if p := recover(); p != nil {
			m.stats.panics.Add(1)
			m.log.Error("kafka-broker: handler panicked", "event", ev.Event, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("kafka-broker: handler for %q panicked: %v", ev.Event, p)
		}
	}()
	return h(ctx, ev)
}

// Dead-letter headers, named like Spring Kafka's.
const (
	HeaderDLTError             = "kafka_dlt-exception-message"
	HeaderDLTErrorKind         = "kafka_dlt-exception-kind"
	HeaderDLTOriginalTopic     = "kafka_dlt-original-topic"
	HeaderDLTOriginalPartition = "kafka_dlt-original-partition"
	HeaderDLTOriginalOffset    = "kafka_dlt-original-offset"
	HeaderDLTAttempts          = "kafka_dlt-attempts"
	// HeaderDLTValueDropped is set, with the reason, on a dead letter written
	// without the original value because the broker refused it.
	HeaderDLTValueDropped = "kafka_dlt-value-dropped"
)

// deadLetter writes msg with the reason to the dead-letter topic. It reports
// false only when shutting down before the write succeeded.
func (m *Manager) deadLetter(msg *kafka.Message, cause error, kind string, attempts int) bool {
	if m.cfg.DisableDeadLetter {
		return true
	}
	tp := msg.TopicPartition
	headers := append([]kafka.Header(nil), msg.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderDLTError, Value: []byte(cause.Error())},
		kafka.Header{Key: HeaderDLTErrorKind, Value: []byte(kind)},
		kafka.Header{Key: HeaderDLTOriginalTopic, Value: []byte(*tp.Topic)},
		kafka.Header{Key: HeaderDLTOriginalPartition, Value: []byte(strconv.Itoa(int(tp.Partition)))},
		kafka.Header{Key: HeaderDLTOriginalOffset, Value: []byte(strconv.FormatInt(int64(tp.Offset), 10))},
		kafka.Header{Key: HeaderDLTAttempts, Value: []byte(strconv.Itoa(attempts))},
	)
	dlq := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &m.cfg.DeadLetterTopic, Partition: kafka.PartitionAny},
		Key:            msg.Key,
		Value:          msg.Value,
		Headers:        headers,
	}
	err := m.produceUntilDone(dlq)
	if err != nil && !errors.Is(err, errShuttingDown) {
		// The broker refuses the record (too large, say): dead-letter the
		// headers alone; they name where the original still is.
		m.log.Error("kafka-broker: dead-letter write refused; writing it without its value",
			"topic", m.cfg.DeadLetterTopic, "original_offset", int64(tp.Offset), "error", err)
		dlq.Value = nil
		dlq.Headers = append(dlq.Headers, kafka.Header{Key: HeaderDLTValueDropped, Value: []byte(err.Error())})
		err = m.produceUntilDone(dlq)
	}
	switch {
	case err == nil:
		m.stats.deadLettered.Add(1)
		return true
	case errors.Is(err, errShuttingDown):
		return false
	default:
		m.stats.deadLetterFailed.Add(1)
		m.log.Error("kafka-broker: record dropped: cannot be dead-lettered", "topic", *tp.Topic,
			"partition", tp.Partition, "offset", int64(tp.Offset), "error", err)
		return true
	}
}

// errShuttingDown: a write was abandoned because the manager is closing.
var errShuttingDown = errors.New("kafka-broker: shutting down")

// permanentProduceError reports errors that retrying the same record cannot fix.
func permanentProduceError(err error) bool {
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return false
	}
	switch kerr.Code() {
	case kafka.ErrMsgSizeTooLarge, kafka.ErrRecordListTooLarge, kafka.ErrInvalidRecord, kafka.ErrInvalidMsg,
		kafka.ErrInvalidMsgSize, kafka.ErrTopicAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTopicException, kafka.ErrInvalidArg, kafka.ErrUnknownTopic:
		return true
	}
	return false
}

// produceUntilDone produces msg, retrying failures with backoff until it is
// acknowledged or the manager gives up on handlers.
func (m *Manager) produceUntilDone(msg *kafka.Message) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	_, err := backoff.Retry(m.handlerCtx, func() (struct{}, error) {
		cp := *msg
		err := m.produce(m.handlerCtx, &cp)
		switch {
		case err == nil:
		case errors.Is(err, ErrClosed) || m.handlerCtx.Err() != nil:
			return struct{}{}, backoff.Permanent(errShuttingDown)
		case permanentProduceError(err):
			return struct{}{}, backoff.Permanent(err)
		default:
			m.log.Warn("kafka-broker: write failed, retrying", "topic", *msg.TopicPartition.Topic, "error", err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
	if err != nil && m.handlerCtx.Err() != nil {
		return errShuttingDown
	}
	return err
}
