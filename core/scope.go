package core

import (
	"context"
	"sync"
)

// sendScope collects what a handler sends for one consumed record: its
// Reply and Produce calls are handed to the producer and return at once,
// and the record's offset is stored only once every one of them is
// acknowledged (the scope is the record's fetch.Acks). It also lets the
// handler wait for them (AwaitAcks).
type sendScope struct {
	owner *sender // the manager whose handler this is
	via   *sender // what sends: owner, or the transactional producer's

	mu      sync.Mutex
	pending int  // sends not yet acknowledged
	sealed  bool // the handler returned: no more sends
	failing bool // a send failed for good: the failure handler has it
	err     error
	done    chan struct{}   // closed once sealed and nothing is pending
	idle    []chan struct{} // AwaitAcks waiters, closed when nothing is pending
	// failed, when set, runs (on a goroutine of its own) on the first send
	// that fails for good; its result replaces the error: nil when the
	// failure was dealt with (the record dead-lettered).
	failed func(error) error
}

type scopeKey struct{}

func newSendScope(owner, via *sender, failed func(error) error) *sendScope {
	return &sendScope{owner: owner, via: via, failed: failed, done: make(chan struct{})}
}

// withScope returns ctx carrying s, for the handler's calls.
func withScope(ctx context.Context, s *sendScope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// scopeOf returns the open scope ctx carries for sender owner, if any.
func scopeOf(ctx context.Context, owner *sender) *sendScope {
	s, _ := ctx.Value(scopeKey{}).(*sendScope)
	if s == nil || s.owner != owner {
		return nil
	}
	return s
}

// add registers a send; false when the handler already returned (the
// caller then sends and waits itself).
func (s *sendScope) add() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return false
	}
	s.pending++
	return true
}

// finish records the outcome of a send registered with add. The first send
// that fails for good goes to the failure handler (the record is then
// dead-lettered once); later failures are moot.
func (s *sendScope) finish(err error) {
	if err != nil && s.failed != nil {
		if s.claimFailure() {
			go func() { s.complete(s.failed(err)) }()
			return
		}
		err = nil
	}
	s.complete(err)
}

func (s *sendScope) claimFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return false
	}
	s.failing = true
	return true
}

func (s *sendScope) complete(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && s.err == nil {
		s.err = err
	}
	s.pending--
	s.settleLocked()
}

// seal marks the handler's return; nothing is sent through the scope after.
func (s *sendScope) seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
	s.settleLocked()
}

func (s *sendScope) settleLocked() {
	if s.pending > 0 {
		return
	}
	for _, w := range s.idle {
		close(w)
	}
	s.idle = nil
	if s.sealed {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

// empty reports, once sealed, whether the handler sent nothing that is
// still pending and nothing failed: the record needs no waiting.
func (s *sendScope) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending == 0 && s.err == nil
}

// Done is closed once the handler returned and every send is acknowledged.
func (s *sendScope) Done() <-chan struct{} { return s.done }

// Err is, once Done is closed, the first send that failed and was not dealt
// with; nil when all were acknowledged.
func (s *sendScope) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// wait waits until every send so far is acknowledged, and returns the first
// failure.
func (s *sendScope) wait(ctx context.Context) error {
	s.mu.Lock()
	if s.pending == 0 {
		err := s.err
		s.mu.Unlock()
		return err
	}
	w := make(chan struct{})
	s.idle = append(s.idle, w)
	s.mu.Unlock()
	select {
	case <-w:
		return s.Err()
	case <-ctx.Done():
		return errorf("kafka-broker: await acks: %w", ctx.Err())
	}
}

// AwaitAcks waits until everything the handler sent so far (its Reply and
// Produce calls) is acknowledged by the brokers, and returns the first
// send that failed. Inside a handler those calls return once the record is
// handed to the producer, so that the next record of the partition is
// handled meanwhile (the record's offset is committed only after the acks
// in any case); AwaitAcks is for a handler that must know, before it goes
// on, that its reply was written. Outside a handler it returns nil at once.
func AwaitAcks(ctx context.Context) error {
	s, _ := ctx.Value(scopeKey{}).(*sendScope)
	if s == nil {
		return nil
	}
	return s.wait(ctx)
}
