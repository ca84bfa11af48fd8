package core

import (
	"errors"
	"sync"
)

// pendingRequests holds the waiters of Request calls by correlation ID.
type pendingRequests struct {
	max    int
	mu     sync.Mutex
	m      map[string]chan *EventObject
	closed bool
}

func newPendingRequests(limit int) *pendingRequests {
	return &pendingRequests{max: limit, m: make(map[string]chan *EventObject)}
}

var errDuplicateRequest = errors.New("a request with this correlation ID is already pending")

func (p *pendingRequests) add(id string) (chan *EventObject, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.max > 0 && len(p.m) >= p.max {
		return nil, ErrTooManyPending
	}
	if _, ok := p.m[id]; ok {
		return nil, errDuplicateRequest
	}
	ch := make(chan *EventObject, 1)
	p.m[id] = ch
	return ch, nil
}

// deliver hands ev to the request awaiting its correlation ID.
func (p *pendingRequests) deliver(ev *EventObject) bool {
	p.mu.Lock()
	ch, ok := p.m[ev.CorrelationID]
	if ok {
		delete(p.m, ev.CorrelationID)
	}
	p.mu.Unlock()
	if ok {
		ch <- ev
	}
	return ok
}

func (p *pendingRequests) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[id]
	return ok
}

// remove forgets the waiter; when a reply was delivered meanwhile it is returned.
func (p *pendingRequests) remove(id string, ch chan *EventObject) (*EventObject, bool) {
	p.mu.Lock()
	cur, ok := p.m[id]
	mine := ok && cur == ch
	if mine {
		delete(p.m, id)
	}
	p.mu.Unlock()
	if !mine {
		// deliver or closeAll took the waiter out: its send is on the way.
		ev := <-ch
		return ev, ev != nil
	}
	return nil, false
}

func (p *pendingRequests) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// closeAll ends every waiter with a nil reply (ErrClosed).
func (p *pendingRequests) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, ch := range p.m {
		ch <- nil
		delete(p.m, id)
	}
}

type sentKind uint8

const (
	sentByProduce sentKind = iota + 1
	sentByRequest
	sentAnswered // a Request whose reply was delivered: another reply is a duplicate
)

// sentIDsCapacity bounds the memory of correlation IDs this instance sent.
const sentIDsCapacity = 1 << 16

// sentIDs remembers the correlation IDs this instance sent recently, oldest
// forgotten first. It tells a late reply to this instance from a reply meant
// for another instance of the same service.
type sentIDs struct {
	mu   sync.Mutex
	m    map[string]sentKind
	ring []string // grows to capacity, then wraps
	cap  int
	next int
}

// newSentIDs remembers up to n IDs; its memory grows with use.
func newSentIDs(n int) *sentIDs {
	return &sentIDs{m: make(map[string]sentKind), cap: n}
}

func (s *sentIDs) add(id string, k sentKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; ok {
		s.m[id] = k
		return
	}
	s.m[id] = k
	if len(s.ring) < s.cap {
		s.ring = append(s.ring, id)
		return
	}
	delete(s.m, s.ring[s.next])
	s.ring[s.next] = id
	s.next = (s.next + 1) % s.cap
}

func (s *sentIDs) lookup(id string) (sentKind, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.m[id]
	return k, ok
}
