package core

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ConsumerStorage holds consumed events that no waiter or router took, keyed
// by correlation ID, like the Python package's consumer storage. It is bounded
// by count (Config.StorageMaxEvents), bytes (Config.StorageMaxBytes: the size
// of each event's record, key, value and headers) and age
// (Config.StorageMaxAge): when full, the oldest events are evicted; expired
// events are evicted on the next access. Every eviction is counted (Evicted)
// and logged, at most one line a second.
//
// A ConsumerStorage is safe for concurrent use.
type ConsumerStorage struct {
	maxEvents int
	maxBytes  int
	maxAge    time.Duration
	log       *rateLogger
	now       func() time.Time
	onEvict   func(*EventObject)

	mu      sync.Mutex
	items   map[string]*list.Element // of *storedEvent
	order   *list.List               // oldest first
	waiters map[string][]chan *EventObject
	changed chan struct{} // closed and replaced when an event is stored
	closed  bool
	bytes   int // sum of the stored events' sizes

	evicted atomic.Uint64
}

type storedEvent struct {
	ev       *EventObject
	size     int
	storedAt time.Time
}

// storageLimits bound a ConsumerStorage; zero means no bound.
type storageLimits struct {
	maxEvents, maxBytes int
	maxAge              time.Duration
}

func newConsumerStorage(limits storageLimits, log *slog.Logger, onEvict func(*EventObject)) *ConsumerStorage {
	return &ConsumerStorage{
		maxEvents: limits.maxEvents,
		maxBytes:  limits.maxBytes,
		maxAge:    limits.maxAge,
		log:       newRateLogger(log),
		now:       time.Now,
		onEvict:   onEvict,
		items:     make(map[string]*list.Element),
		order:     list.New(),
		waiters:   make(map[string][]chan *EventObject),
		changed:   make(chan struct{}),
	}
}

// put stores ev, whose record weighed size bytes, or hands it to a Consume
// waiter for its correlation ID.
func (s *ConsumerStorage) put(ev *EventObject, size int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Handing over and storing are one critical section, so a Consume that
	// registers meanwhile cannot miss the event.
	if s.deliverLocked(ev) {
		return
	}
	now := s.now()
	s.expireLocked(now)
	if el, ok := s.items[ev.CorrelationID]; ok {
		// A newer event with the same ID replaces the older one, as in the
		// Python package's key-value storage.
		s.bytes -= s.order.Remove(el).(*storedEvent).size
	}
	s.items[ev.CorrelationID] = s.order.PushBack(&storedEvent{ev: ev, size: size, storedAt: now})
	s.bytes += size
	for s.maxEvents > 0 && s.order.Len() > s.maxEvents {
		s.evictLocked(s.order.Front(), "storage full (StorageMaxEvents)")
	}
	for s.maxBytes > 0 && s.bytes > s.maxBytes {
		s.evictLocked(s.order.Front(), "storage full (StorageMaxBytes)")
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// deliver hands ev to a waiter blocked in Consume for its ID.
func (s *ConsumerStorage) deliver(ev *EventObject) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliverLocked(ev)
}

func (s *ConsumerStorage) deliverLocked(ev *EventObject) bool {
	ws := s.waiters[ev.CorrelationID]
	if len(ws) == 0 {
		return false
	}
	ch := ws[0]
	if len(ws) == 1 {
		delete(s.waiters, ev.CorrelationID)
	} else {
		s.waiters[ev.CorrelationID] = ws[1:]
	}
	ch <- ev // buffered 1, and each channel gets at most one event
	return true
}

func (s *ConsumerStorage) hasWaiter(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters[id]) > 0
}

func (s *ConsumerStorage) expireLocked(now time.Time) {
	if s.maxAge <= 0 {
		return
	}
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		if now.Sub(el.Value.(*storedEvent).storedAt) < s.maxAge {
			return
		}
		s.evictLocked(el, "expired")
	}
}

func (s *ConsumerStorage) evictLocked(el *list.Element, why string) {
	se := s.order.Remove(el).(*storedEvent)
	delete(s.items, se.ev.CorrelationID)
	s.bytes -= se.size
	s.evicted.Add(1)
	s.log.Warn("kafka-broker: consumer storage evicted events",
		"reason", why, "correlation_id", se.ev.CorrelationID, "event", se.ev.Event, "evicted_total", s.evicted.Load())
	if s.onEvict != nil {
		s.onEvict(se.ev)
	}
}

// Receive blocks until the storage holds an event, at once if it does. It
// returns ctx's error when ctx ends first, and ErrClosed when the manager closes.
func (s *ConsumerStorage) Receive(ctx context.Context) error {
	for {
		s.mu.Lock()
		s.expireLocked(s.now())
		n, changed, closed := s.order.Len(), s.changed, s.closed
		s.mu.Unlock()
		if n > 0 {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Poll reports, without blocking, whether the storage holds an event.
func (s *ConsumerStorage) Poll() bool { return s.Len() > 0 }

// Len is the number of stored events.
func (s *ConsumerStorage) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	return s.order.Len()
}

// Get returns the event stored for correlationID without removing it.
func (s *ConsumerStorage) Get(correlationID string) (*EventObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	el, ok := s.items[correlationID]
	if !ok {
		return nil, false
	}
	return el.Value.(*storedEvent).ev, true
}

// Remove deletes the event stored for correlationID and reports whether there was one.
func (s *ConsumerStorage) Remove(correlationID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[correlationID]
	if ok {
		s.removeLocked(el)
	}
	return ok
}

func (s *ConsumerStorage) removeLocked(el *list.Element) *EventObject {
	se := s.order.Remove(el).(*storedEvent)
	delete(s.items, se.ev.CorrelationID)
	s.bytes -= se.size
	return se.ev
}

// Consume blocks until the event with correlationID is consumed, and removes
// it from the storage. An event stored before the call is returned at once.
// It returns ctx's error when ctx ends first (the wait is then forgotten, so an
// event arriving later is stored), and ErrClosed when the manager closes.
func (s *ConsumerStorage) Consume(ctx context.Context, correlationID string) (*EventObject, error) {
	s.mu.Lock()
	s.expireLocked(s.now())
	if el, ok := s.items[correlationID]; ok {
		ev := s.removeLocked(el)
		s.mu.Unlock()
		return ev, nil
	}
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	ch := make(chan *EventObject, 1)
	s.waiters[correlationID] = append(s.waiters[correlationID], ch)
	s.mu.Unlock()

	select {
	case ev, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		return ev, nil
	case <-ctx.Done():
		s.mu.Lock()
		s.dropWaiterLocked(correlationID, ch)
		s.mu.Unlock()
		// The event may have been delivered between ctx ending and the lock.
		select {
		case ev, ok := <-ch:
			if ok {
				return ev, nil
			}
		default:
		}
		return nil, ctx.Err()
	}
}

func (s *ConsumerStorage) dropWaiterLocked(id string, ch chan *EventObject) {
	ws := s.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = ws
	}
}

// ConsumeAll returns every stored event keyed by correlation ID and empties the storage.
func (s *ConsumerStorage) ConsumeAll() map[string]*EventObject {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	out := make(map[string]*EventObject, len(s.items))
	for id, el := range s.items {
		out[id] = el.Value.(*storedEvent).ev
	}
	s.items = make(map[string]*list.Element)
	s.order.Init()
	s.bytes = 0
	return out
}

// Bytes is the size of the stored events' records (key, value and headers).
func (s *ConsumerStorage) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.now())
	return s.bytes
}

// Evicted is the number of events evicted for age, count or bytes since the start.
func (s *ConsumerStorage) Evicted() uint64 { return s.evicted.Load() }

// waiting is the number of Consume calls blocked.
func (s *ConsumerStorage) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ws := range s.waiters {
		n += len(ws)
	}
	return n
}

// close ends every blocked Consume and Receive with ErrClosed. Stored events
// stay readable.
func (s *ConsumerStorage) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for id, ws := range s.waiters {
		for _, ch := range ws {
			close(ch)
		}
		delete(s.waiters, id)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}
