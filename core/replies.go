package core

import (
	"context"
	"errors"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// replies matches replies to the requests awaiting them. Replies reach this
// instance two ways: on the reply topics (Go responders, and replies other
// instances forwarded), read by the reply consumer; and on the Location
// topic (Python responders answer there), where the dispatcher offers every
// record that may be one. A reply goes to the Request or
// ConsumerStorage.Consume awaiting its correlation ID; one for an event
// this instance produced is kept in the storage; one for a request another
// instance of the service sent is forwarded once to the shared reply topic;
// a second reply to an answered request is a duplicate, one to a request
// that gave up is late.
type replies struct {
	location string // this service's Location
	shared   string // "<Location>.replies", read by every instance
	maxBytes int    // Config.MaxRecordBytes
	pending  *pendingRequests
	sent     *sentIDs
	storage  *ConsumerStorage
	send     *sender
	stats    *counters
	rlog     *rateLogger
	late     func(*EventObject) // WithLateReplyHook, may be nil
	// stop ends the retries of a forward when the manager gives up on
	// handlers.
	stop context.Context
}

// verdict is what became of a record offered as a reply.
type verdict uint8

const (
	notReply         verdict = iota // not a reply to anything of this service: an event
	replyDone                       // delivered, dropped as late or duplicate, or forwarded
	replyStore                      // a reply to an event this instance produced: for ConsumerStorage.Consume
	replyUnsolicited                // a reply nothing of this service awaits
	replyAbandoned                  // shutting down while forwarding it: leave it uncommitted
)

// awaiting reports whether any Request awaits a reply.
func (r *replies) awaiting() bool { return r.pending.len() > 0 }

// awaits reports whether this instance awaits a reply with correlation ID
// id: a Request or ConsumerStorage.Consume waits for it, or it sent an event
// with that ID that is not answered yet.
func (r *replies) awaits(id string) bool {
	if r.pending.has(id) || r.storage.hasWaiter(id) {
		return true
	}
	kind, ok := r.sent.lookup(id)
	return ok && (kind == sentByProduce || kind == sentByRequest)
}

// takeEarly hands a record of the Location topic that is a reply awaited by
// a Request to its waiter at once, on the poll goroutine, so that it does
// not queue behind a handler of its partition (perhaps the very one waiting
// for it). It decodes only records keyed by a pending correlation ID.
func (r *replies) takeEarly(msg *kafka.Message) bool {
	if len(msg.Key) == 0 || !r.pending.has(string(msg.Key)) {
		return false
	}
	ev, err := decodeRecord(msg, r.maxBytes)
	if err != nil || !r.mayBeReply(ev) {
		return false
	}
	return r.deliver(ev)
}

// offer classifies ev, decoded from msg of the Location topic.
func (r *replies) offer(msg *kafka.Message, ev *EventObject) verdict {
	if r.mayBeReply(ev) {
		if r.take(ev) {
			return replyDone
		}
		if r.isOwnReply(ev) {
			if v := r.reclaim(msg, ev); v != notReply {
				return v
			}
		}
	}
	if !isReply(ev) {
		return notReply
	}
	if kind, sent := r.sent.lookup(ev.CorrelationID); sent && kind == sentByProduce {
		return replyStore
	}
	return replyUnsolicited
}

// fromReplyTopic dispatches a record of a reply topic: to its waiter, as
// late or duplicate, into the storage when this instance produced its
// request, or nowhere when another instance asked.
func (r *replies) fromReplyTopic(msg *kafka.Message) {
	ev, err := decodeRecord(msg, r.maxBytes)
	if err != nil {
		r.rlog.Warn("kafka-broker: malformed reply skipped", "topic", *msg.TopicPartition.Topic,
			"partition", msg.TopicPartition.Partition, "offset", int64(msg.TopicPartition.Offset), "error", err)
		return
	}
	if r.take(ev) {
		return
	}
	switch kind, sent := r.sent.lookup(ev.CorrelationID); {
	case sent && kind == sentByRequest:
		r.lateReply(ev)
	case sent && kind == sentAnswered:
		r.duplicateReply(ev)
	case sent:
		r.storage.put(ev, recordSize(msg))
		r.stats.stored.Add(1)
	}
}

// deliver hands ev to the Request awaiting it and remembers that the
// request was answered, so that another reply to it (a responder that
// replied twice, a record read again) is told from a late one.
func (r *replies) deliver(ev *EventObject) bool {
	if !r.pending.deliver(ev) {
		return false
	}
	r.sent.add(ev.CorrelationID, sentAnswered)
	return true
}

// take hands ev to a Request or ConsumerStorage.Consume awaiting it.
func (r *replies) take(ev *EventObject) bool {
	return r.deliver(ev) || r.storage.deliver(ev)
}

// mayBeReply reports whether ev, read from the Location topic, can be the
// reply to a request of this service: one with a reply status, or the
// Python package's reply event "respond", can; of the other pending ones, a
// Go request (it names a reply topic) cannot, nor can one whose last hop is
// this service (a request it sent to itself).
func (r *replies) mayBeReply(ev *EventObject) bool {
	if isReply(ev) || ev.Event == "respond" {
		return true
	}
	if ev.meta != nil && ev.meta.replyTopic != "" {
		return false
	}
	n := len(ev.AuditLog)
	return n == 0 || ev.AuditLog[n-1].Location != r.location
}

// isOwnReply reports whether ev is a reply to a request of this service:
// its first hop left from this Location, its last hop from another one, and
// it is marked as a reply (its status, or the Python package's event
// "respond").
func (r *replies) isOwnReply(ev *EventObject) bool {
	n := len(ev.AuditLog)
	if n < 2 || ev.AuditLog[0].Location != r.location || ev.AuditLog[n-1].Location == r.location {
		return false
	}
	return isReply(ev) || ev.Event == "respond"
}

// reclaim deals with a reply to this service that no waiter of this
// instance took; notReply when it could not (it is then dispatched as usual).
func (r *replies) reclaim(msg *kafka.Message, ev *EventObject) verdict {
	switch kind, sent := r.sent.lookup(ev.CorrelationID); {
	case sent && kind == sentByRequest:
		r.lateReply(ev)
		return replyDone
	case sent && kind == sentAnswered:
		r.duplicateReply(ev)
		return replyDone
	case sent:
		return replyStore
	}
	// Another instance of this service sent it: forward it, once, to the
	// reply topic that every instance reads.
	fwd := &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &r.shared, Partition: kafka.PartitionAny},
		Key:            msg.Key,
		Value:          msg.Value,
		Headers:        append(append([]kafka.Header(nil), msg.Headers...), kafka.Header{Key: HeaderForwarded, Value: []byte(r.location)}),
	}
	if err := r.send.sendUntilDone(r.stop, fwd); err != nil {
		if errors.Is(err, errShuttingDown) {
			return replyAbandoned
		}
		r.rlog.Error("kafka-broker: cannot forward reply; handling it here", "correlation_id", ev.CorrelationID, "error", err)
		return notReply
	}
	r.stats.forwarded.Add(1)
	return replyDone
}

// duplicateReply drops another reply to a Request that already got one.
func (r *replies) duplicateReply(ev *EventObject) {
	r.stats.duplicateReplies.Add(1)
	r.rlog.Log(-4, "kafka-broker: duplicate reply dropped", "correlation_id", ev.CorrelationID, "event", ev.Event)
}

func (r *replies) lateReply(ev *EventObject) {
	r.stats.lateReplies.Add(1)
	r.rlog.Info("kafka-broker: late reply", "correlation_id", ev.CorrelationID, "event", ev.Event)
	if r.late != nil {
		r.late(ev)
	}
}

// isReply reports whether ev is a reply by its status: anything but
// "pending" (and the Python package's "ongoing") answers a request.
func isReply(ev *EventObject) bool {
	return ev.Status != StatusPending && ev.Status != StatusOngoing && ev.Status != ""
}
