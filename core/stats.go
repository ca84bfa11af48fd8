package core

import "sync/atomic"

type counters struct {
	produced, requests, replies, timeouts, lateReplies, forwarded atomic.Uint64
	duplicateReplies                                              atomic.Uint64
	consumed, handled, handlerErrors, retries, deadLettered       atomic.Uint64
	panics, noRoute, stored, storageEvicted, deadLetterFailed     atomic.Uint64
	repliesRefused, unsolicitedReplies, loops, deadLetterRetries  atomic.Uint64
	malformed                                                     [5]atomic.Uint64
}

// Stats is a snapshot of a Manager's counters since it was created.
type Stats struct {
	Produced    uint64 // records acknowledged by the broker
	Requests    uint64 // Request calls that produced
	Replies     uint64 // Reply calls
	Timeouts    uint64 // Requests that ended with ErrReplyTimeout
	LateReplies uint64 // replies that came after their Request gave up
	// DuplicateReplies: replies to a Request that already got one (a
	// responder that replied twice after a crash or rebalance); dropped.
	DuplicateReplies uint64
	Forwarded        uint64 // replies forwarded to the shared reply topic
	Consumed         uint64 // records read from the Location topic
	Handled          uint64 // events routed, stored or handed to a waiter
	HandlerErrors    uint64 // failed handler attempts
	Retries          uint64 // handler attempts after the first
	DeadLettered     uint64 // records written to the dead-letter topic
	DroppedRecords   uint64 // failed records dropped after logging because DisableDeadLetter is set
	// DeadLetterRetries: failed attempts to write a dead letter (its
	// partition waits; a dead letter is never dropped).
	DeadLetterRetries uint64
	// RepliesRefused: Reply calls refused by the reply policy.
	RepliesRefused uint64
	// UnsolicitedReplies: replies nothing awaited that reached a router;
	// dead-lettered, never routed.
	UnsolicitedReplies uint64
	// Loops: records whose audit log was longer than MaxHops; dead-lettered.
	Loops          uint64
	Panics         uint64 // recovered handler panics
	NoRoute        uint64 // events no route matched
	Stored         uint64 // events put in the ConsumerStorage
	StorageEvicted uint64 // events the ConsumerStorage evicted
	Malformed      map[string]uint64
	Pending        int // requests awaiting replies now
}

var malformedKinds = [5]string{MalformedNotJSON, MalformedNotObject, MalformedFieldType, MalformedTooLarge, MalformedEmptyEvent}

func malformedIndex(kind string) int {
	for i, k := range malformedKinds {
		if k == kind {
			return i
		}
	}
	return 0
}

// Stats returns the manager's counters.
func (m *Manager) Stats() Stats {
	c := &m.stats
	s := Stats{
		Produced: c.produced.Load(), Requests: c.requests.Load(), Replies: c.replies.Load(),
		Timeouts: c.timeouts.Load(), LateReplies: c.lateReplies.Load(), DuplicateReplies: c.duplicateReplies.Load(), Forwarded: c.forwarded.Load(),
		Consumed: c.consumed.Load(), Handled: c.handled.Load(), HandlerErrors: c.handlerErrors.Load(),
		Retries: c.retries.Load(), DeadLettered: c.deadLettered.Load(), DroppedRecords: c.deadLetterFailed.Load(), Panics: c.panics.Load(),
		NoRoute: c.noRoute.Load(), Stored: c.stored.Load(), StorageEvicted: c.storageEvicted.Load(),
		DeadLetterRetries: c.deadLetterRetries.Load(), RepliesRefused: c.repliesRefused.Load(),
		UnsolicitedReplies: c.unsolicitedReplies.Load(), Loops: c.loops.Load(),
		Malformed: make(map[string]uint64, len(malformedKinds)),
		Pending:   m.replies.pending.len(),
	}
	for i, k := range malformedKinds {
		s.Malformed[k] = c.malformed[i].Load()
	}
	return s
}
