package core

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeTopics is a topic directory over a fixed set of topics with 3
// partitions each.
func fakeTopics(names ...string) *topicDirectory {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	d := newTopicDirectory(nil)
	d.describe = func(_ context.Context, topic string) (topicInfo, error) {
		if set[topic] {
			return topicInfo{exists: true, partitions: 3}, nil
		}
		return topicInfo{}, nil
	}
	return d
}

func testPolicy(allow ...string) *replyPolicy {
	cfg := Config{Location: "svc", DeadLetterTopic: "svc.dlq", ReplyTopicAllowList: allow, MaxHops: 4}
	return newReplyPolicy(cfg, fakeTopics("svc", "svc.dlq", "svc.replies", "api.replies", "py-orders",
		"billing", "billing.dlq", "__consumer_offsets", "py-audit", "other.dlq"))
}

// request builds a consumed request: header is its kafka_replyTopic ("" for
// none), audit the Locations of its audit log.
func request(header string, partition int32, audit ...string) *EventObject {
	ev := &EventObject{CorrelationID: "id-1", Event: "e", meta: &recordMeta{replyTopic: header, replyPartition: partition}}
	for _, l := range audit {
		ev.AuditLog = append(ev.AuditLog, AuditEntry{Location: l})
	}
	return ev
}

func TestReplyPolicy(t *testing.T) {
	never := func(string) bool { return false }
	always := func(string) bool { return true }
	tests := []struct {
		name      string
		policy    *replyPolicy
		req       *EventObject
		awaited   func(string) bool
		topic     string // "" = refused
		partition int32
		err       error
	}{
		{"header replies topic", testPolicy(), request("api.replies", -1, "api"), never, "api.replies", -1, nil},
		{"header partition kept", testPolicy(), request("api.replies", 2, "api"), never, "api.replies", 2, nil},
		{"header partition that does not exist is dropped", testPolicy(), request("api.replies", 7, "api"), never, "api.replies", -1, nil},
		{"header other service's Location", testPolicy(), request("billing", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"header allow-listed", testPolicy("billing"), request("billing", -1, "api"), never, "billing", -1, nil},
		{"header dead-letter topic", testPolicy("*"), request("billing.dlq", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"header own dead-letter topic", testPolicy("*"), request("svc.dlq", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"header internal topic", testPolicy("*"), request("__consumer_offsets", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"header replies topic that does not exist", testPolicy(), request("ghost.replies", -1, "api"), never, "", 0, ErrUnknownTopic},
		{"header invalid name", testPolicy("*"), request("a b", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"header own Location", testPolicy("*"), request("svc", -1, "api"), never, "", 0, ErrReplyTopicNotAllowed},
		{"empty header falls back to the audit log", testPolicy("py-orders"), request("", -1, "py-orders"), never, "py-orders", -1, nil},
		{"audit not allow-listed", testPolicy(), request("", -1, "py-orders"), never, "", 0, ErrReplyTopicNotAllowed},
		{"audit allow-listed", testPolicy("py-orders"), request("", -1, "py-orders"), never, "py-orders", -1, nil},
		{"audit prefix", testPolicy("py-*"), request("", -1, "py-audit"), never, "py-audit", -1, nil},
		{"audit star", testPolicy("*"), request("", -1, "billing"), never, "billing", -1, nil},
		{"audit replies topic needs the allow-list", testPolicy(), request("", -1, "api.replies"), never, "", 0, ErrReplyTopicNotAllowed},
		{"audit other service's dead-letter topic", testPolicy("*"), request("", -1, "billing.dlq"), never, "", 0, ErrReplyTopicNotAllowed},
		{"audit topic that does not exist", testPolicy("*"), request("", -1, "new-topic"), never, "", 0, ErrUnknownTopic},
		{"audit own Location: a loop", testPolicy("*"), request("", -1, "svc"), never, "", 0, ErrReplyTopicNotAllowed},
		{"audit own Location awaited here", testPolicy(), request("", -1, "svc"), always, "svc", -1, nil},
		{"audit Location of an earlier hop is not used", testPolicy("py-orders"), request("", -1, "py-orders", "billing"), never, "", 0, ErrReplyTopicNotAllowed},
		{"no address", testPolicy("*"), request("", -1), never, "", 0, ErrNoReplyAddress},
		{"empty audit location", testPolicy("*"), request("", -1, ""), never, "", 0, ErrNoReplyAddress},
		{"hop limit", testPolicy("*"), request("api.replies", -1, "a", "b", "c", "d"), never, "", 0, ErrHopLimit},
		{"last hop within the limit", testPolicy("*"), request("api.replies", -1, "a", "b", "c"), never, "api.replies", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.policy.target(context.Background(), tt.req, tt.awaited)
			if tt.topic == "" {
				if !errors.Is(err, tt.err) || !IsPermanent(err) {
					t.Fatalf("target %+v, error %v; want a permanent error wrapping %v", got, err, tt.err)
				}
				return
			}
			if err != nil || got.topic != tt.topic || got.partition != tt.partition {
				t.Fatalf("target %+v, error %v; want %s/%d", got, err, tt.topic, tt.partition)
			}
		})
	}
}

// FuzzReplyPolicy checks the policy's promises for any address a record
// can carry: an allowed target is a valid, existing topic that is neither
// this service's Location (unless awaited), a dead-letter nor an internal
// topic, and is a "*.replies" topic or allow-listed.
func FuzzReplyPolicy(f *testing.F) {
	f.Add("api.replies", "py-orders", int32(1), uint8(1), false)
	f.Add("", "svc", int32(-1), uint8(1), true)
	f.Add("", "billing.dlq", int32(0), uint8(3), false)
	f.Add("__consumer_offsets", "", int32(9), uint8(2), false)
	f.Add("svc", "svc", int32(2), uint8(5), false)
	p := testPolicy("py-*", "billing")
	f.Fuzz(func(t *testing.T, header, location string, partition int32, hops uint8, awaited bool) {
		req := request(header, partition)
		for range hops % 8 {
			req.AuditLog = append(req.AuditLog, AuditEntry{Location: "x"})
		}
		if len(req.AuditLog) > 0 {
			req.AuditLog[len(req.AuditLog)-1].Location = location
		}
		got, err := p.target(context.Background(), req, func(string) bool { return awaited })
		if err != nil {
			if !IsPermanent(err) {
				t.Fatalf("refusal %v is not permanent", err)
			}
			return
		}
		switch {
		case !ValidTopic(got.topic):
			t.Fatalf("invalid topic %q allowed", got.topic)
		case strings.HasPrefix(got.topic, "__"), strings.HasSuffix(got.topic, ".dlq"):
			t.Fatalf("internal or dead-letter topic %q allowed", got.topic)
		case got.topic == "svc" && !awaited:
			t.Fatal("own Location allowed for a reply this instance does not await")
		case got.partition >= 3:
			t.Fatalf("partition %d of a 3-partition topic", got.partition)
		case len(req.AuditLog)+1 > p.maxHops:
			t.Fatalf("%d hops allowed", len(req.AuditLog)+1)
		}
		info, _ := p.topics.get(context.Background(), got.topic)
		if !info.exists {
			t.Fatalf("topic %q that does not exist allowed", got.topic)
		}
		fromHeader := header != ""
		if got.topic != "svc" && !allowListed(p.allow, got.topic) && (!fromHeader || !strings.HasSuffix(got.topic, ".replies")) {
			t.Fatalf("topic %q from the %s is neither allow-listed nor a header's replies topic", got.topic, got.source)
		}
	})
}
