package core

import (
	"context"
)

// Health is a point-in-time view of a Manager, for readiness probes.
type Health struct {
	// ConsumerAssigned: the Location consumer has received its assignment.
	ConsumerAssigned bool `json:"consumer_assigned"`
	// ReplyPositioned: the reply consumer is positioned on the reply topic.
	ReplyPositioned bool `json:"reply_positioned"`
	// BrokerReachable: a metadata request through the producer succeeded.
	BrokerReachable bool `json:"broker_reachable"`
	// Closed: Close has begun.
	Closed bool `json:"closed"`
	// PendingRequests awaiting replies.
	PendingRequests int `json:"pending_requests"`
	// Error says why the manager is not ready, if it is not.
	Error string `json:"error,omitempty"`
}

// Ready reports whether the manager can serve requests.
func (h Health) Ready() bool {
	return h.ConsumerAssigned && h.ReplyPositioned && h.BrokerReachable && !h.Closed
}

// Health checks the consumer's assignment, the reply consumer's position and
// that the broker answers a metadata request (bounded by ctx, at most 5s).
func (m *Manager) Health(ctx context.Context) Health {
	state := m.state.Load()
	h := Health{
		ConsumerAssigned: state == stateRunning,
		ReplyPositioned:  state == stateRunning,
		Closed:           state >= stateClosing,
		PendingRequests:  m.replies.pending.len(),
	}
	if h.Closed {
		h.Error = ErrClosed.Error()
		return h
	}
	if state != stateRunning {
		h.Error = ErrNotStarted.Error()
	}
	if m.txn != nil {
		if err := m.txn.failed(); err != nil { // fenced: handles nothing any more
			h.ConsumerAssigned = false
			h.Error = err.Error()
			return h
		}
	}
	if err := m.Ping(ctx); err != nil {
		h.Error = err.Error()
		return h
	}
	h.BrokerReachable = true
	return h
}

// Ping makes a metadata round trip to the brokers through the producer's
// connection, bounded by ctx (at most 5s).
func (m *Manager) Ping(ctx context.Context) error { return m.admin.ping(ctx) }
