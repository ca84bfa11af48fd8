package core

import (
	"context"
	"errors"
	"strings"
)

// ErrHopLimit is wrapped by the error of Reply and Produce for an event whose
// audit log would grow past Config.MaxHops, and is the cause of "loop" dead
// letters: an event that went round that often is caught in a loop.
var ErrHopLimit = errors.New("kafka-broker: audit log exceeds MaxHops (a loop?)")

// Sources of a reply address.
const (
	addrHeader   = "kafka_replyTopic header"
	addrAuditLog = "audit log"
)

// replyTarget is where a reply goes.
type replyTarget struct {
	topic     string
	partition int32  // kafka.PartitionAny (-1) for keyed partitioning
	source    string // addrHeader or addrAuditLog
	// noSuchPartition is the kafka_replyPartition asked for when the topic
	// has no such partition (the reply is keyed instead), else -1.
	noSuchPartition int32
}

// replyPolicy decides where Reply may write. Both addresses a request can
// carry, the kafka_replyTopic header and the Location of its last audit
// entry, come from whoever wrote the record, so one set of rules checks
// both:
//
//   - never this service's own Location, unless this instance awaits the
//     reply itself (it would come back as a new event: a loop);
//   - never a dead-letter topic (this service's, or any "*.dlq") nor an
//     internal one ("__*");
//   - a header address must end in ".replies" or be allow-listed; an
//     audit-log address must be allow-listed (Config.ReplyTopicAllowList);
//   - the topic must exist: a reply never creates one;
//   - the request's audit log must leave room for the reply's hop (MaxHops).
type replyPolicy struct {
	location   string
	deadLetter string
	allow      []string
	maxHops    int
	topics     *topicDirectory
}

func newReplyPolicy(cfg Config, topics *topicDirectory) *replyPolicy {
	return &replyPolicy{
		location:   cfg.Location,
		deadLetter: cfg.DeadLetterTopic,
		allow:      cfg.ReplyTopicAllowList,
		maxHops:    cfg.MaxHops,
		topics:     topics,
	}
}

// target returns where the reply to req goes. awaited reports whether this
// instance itself awaits a reply with that correlation ID. Every refusal is
// permanent (retrying cannot change the request) and wraps
// ErrReplyTopicNotAllowed, ErrNoReplyAddress or ErrHopLimit. When the brokers
// cannot say whether the topic exists (they are down), the reply goes ahead:
// the producer does not create topics, and it waits for the brokers.
func (p *replyPolicy) target(ctx context.Context, req *EventObject, awaited func(id string) bool) (replyTarget, error) {
	id := req.CorrelationID
	if p.maxHops > 0 && len(req.AuditLog)+1 > p.maxHops {
		return replyTarget{}, Permanent(errorf("kafka-broker: reply to %s: %w: %d hops, MaxHops %d",
			id, ErrHopLimit, len(req.AuditLog)+1, p.maxHops))
	}
	t := replyTarget{partition: -1, noSuchPartition: -1}
	switch n := len(req.AuditLog); {
	case req.ReplyTopic() != "":
		t.topic, t.source = req.ReplyTopic(), addrHeader
		if req.meta != nil {
			t.partition = req.meta.replyPartition
		}
	case n > 0 && req.AuditLog[n-1].Location != "":
		t.topic, t.source = req.AuditLog[n-1].Location, addrAuditLog
	default:
		return replyTarget{}, Permanent(errorf("kafka-broker: reply to %s: %w", id, ErrNoReplyAddress))
	}
	if why := p.refusal(t, id, awaited); why != "" {
		return replyTarget{}, Permanent(errorf("kafka-broker: reply to %s: %s names topic %q: %w: %s",
			id, t.source, t.topic, ErrReplyTopicNotAllowed, why))
	}
	info, err := p.topics.require(ctx, t.topic)
	switch {
	case errors.Is(err, ErrUnknownTopic):
		return replyTarget{}, Permanent(errorf("kafka-broker: reply to %s: %s names topic %q: %w: %w",
			id, t.source, t.topic, ErrReplyTopicNotAllowed, err))
	case err == nil && t.partition >= int32(info.partitions):
		t.noSuchPartition, t.partition = t.partition, -1
	}
	return t, nil
}

// refusal says why t may not be written to, or "" when it may.
func (p *replyPolicy) refusal(t replyTarget, id string, awaited func(string) bool) string {
	switch {
	case !ValidTopic(t.topic):
		return "not a valid topic name"
	case strings.HasPrefix(t.topic, "__"):
		return "an internal topic"
	case t.topic == p.deadLetter || strings.HasSuffix(t.topic, ".dlq"):
		return "a dead-letter topic"
	case t.topic == p.location:
		if awaited(id) {
			return "" // a request this instance sent itself, the Python way
		}
		return "this service's own Location (the reply would come back as a new event)"
	case t.source == addrHeader && strings.HasSuffix(t.topic, ".replies"):
		return ""
	case allowListed(p.allow, t.topic):
		return ""
	case t.source == addrAuditLog:
		return "not in ReplyTopicAllowList (list the Locations of the Python services that call this one)"
	}
	return "neither a \"*.replies\" topic nor in ReplyTopicAllowList"
}

// allowListed reports whether topic matches an entry of list: a name, a
// prefix ending in "*", or "*".
func allowListed(list []string, topic string) bool {
	for _, a := range list {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(topic, prefix) {
				return true
			}
		} else if a == topic {
			return true
		}
	}
	return false
}
