package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestReplyTopicAllowList(t *testing.T) {
	t.Parallel()
	victim := kafkatest.Config(t, "svc")
	victimM := startManager(t, victim) // the topic a crafted request tries to write into
	respCfg := kafkatest.Config(t, "svc")
	replied := make(chan error, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("call", func(ctx context.Context, ev *core.EventObject) error {
		m, _ := core.FromContext(ctx)
		err := m.Reply(ctx, ev, map[string]string{"secret": "x"})
		replied <- err
		return err
	})
	resp := startRouted(t, respCfg, r)

	ev, _ := core.NewEventObject("call", nil)
	ev.AuditLog = []core.AuditEntry{{Event: "call", Location: "attacker", TimeSent: time.Now().Unix()}}
	val, _ := ev.MarshalJSON()
	rawProduce(t, respCfg.Location, []byte(ev.CorrelationID), val,
		kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(victim.Location)})
	select {
	case err := <-replied:
		if !errors.Is(err, core.ErrReplyTopicNotAllowed) {
			t.Fatalf("Reply = %v, want ErrReplyTopicNotAllowed", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("crafted request not handled")
	}
	dlq := kafkatest.ReadTopic(t, resp.Config().DeadLetterTopic, 1, 60*time.Second)
	if string(dlq[0].Key) != ev.CorrelationID || kafkatest.Header(dlq[0], core.HeaderDLTAttempts) != "1" {
		t.Fatalf("DLQ record %s attempts %s", dlq[0].Key, kafkatest.Header(dlq[0], core.HeaderDLTAttempts))
	}
	// The refusal happened before the DLQ write; the victim topic is empty.
	if low, high := watermarks(t, victim.Location); high != low {
		t.Fatalf("victim topic got %d records", high-low)
	}
	_ = victimM
}

// Every reply address a request carries, in the kafka_replyTopic header or
// as the last audit entry's Location, passes one policy.
func TestReplyAddressPolicy(t *testing.T) {
	t.Parallel()
	victim := kafkatest.Config(t, "victim")
	startManager(t, victim) // a service with its Location, replies and dlq topics
	python := kafkatest.Topic(t, "py", 3)
	newName := kafkatest.Name(t, "new")
	cfg := kafkatest.Config(t, "svc")
	cfg.ReplyTopicAllowList = []string{python}
	s := startReplier(t, cfg)
	own := cfg.Location

	tests := []struct {
		name    string
		header  *string // kafka_replyTopic; nil = no header
		audit   string
		allowed string // the topic the reply lands on; "" = refused
	}{
		{"audit: another service's Location", nil, victim.Location, ""},
		{"audit: another service's dead-letter topic", nil, victim.Location + ".dlq", ""},
		{"audit: a topic that does not exist", nil, newName, ""},
		{"audit: this service's own Location", nil, own, ""},
		{"audit: an internal topic", nil, "__consumer_offsets", ""},
		{"empty header, audit: another service's Location", ptr(""), victim.Location, ""},
		{"header: another service's Location", ptr(victim.Location), "api", ""},
		{"header: a dead-letter topic", ptr(victim.Location + ".dlq"), "api", ""},
		{"header: a replies topic that does not exist", ptr(newName + ".replies"), "api", ""},
		{"header: this service's own Location", ptr(own), "api", ""},
		{"audit: an allow-listed Python service", nil, python, python},
		{"header: a replies topic", ptr(victim.Location + ".replies"), "api", victim.Location + ".replies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.runs.Load()
			ev, value := request(t, tt.audit)
			var headers []kafka.Header
			if tt.header != nil {
				headers = append(headers, kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(*tt.header)})
			}
			var low int64
			if tt.allowed != "" {
				_, low = watermarks(t, tt.allowed)
			}
			rawProduce(t, own, []byte(ev.CorrelationID), value, headers...)
			err := receive(t, s.errs, "the handler's Reply")
			if tt.allowed == "" {
				if !errors.Is(err, core.ErrReplyTopicNotAllowed) {
					t.Fatalf("Reply = %v, want ErrReplyTopicNotAllowed", err)
				}
				dl := readKeyed(t, s.m.Config().DeadLetterTopic, ev.CorrelationID)
				if k := kafkatest.Header(dl, core.HeaderDLTErrorKind); k != core.DeadLetterReplyRefused {
					t.Fatalf("dead letter kind %q, want %q", k, core.DeadLetterReplyRefused)
				}
			} else {
				if err != nil {
					t.Fatalf("Reply = %v", err)
				}
				if _, high := watermarks(t, tt.allowed); high != low+1 {
					t.Fatalf("%s got %d records, want 1", tt.allowed, high-low)
				}
			}
			if n := s.runs.Load() - before; n != 1 {
				t.Fatalf("handler ran %d times, want 1", n)
			}
		})
	}
	// Nothing was written where it was refused, and nothing was created.
	for _, topic := range []string{victim.Location, victim.Location + ".dlq", own} {
		if low, high := watermarks(t, topic); topic != own && high != low {
			t.Errorf("%s got %d records", topic, high-low)
		}
	}
	for _, topic := range []string{newName, newName + ".replies"} {
		if topicExists(t, topic) {
			t.Errorf("topic %s was created", topic)
		}
	}
	if st := s.m.Stats(); st.RepliesRefused != 10 {
		t.Errorf("RepliesRefused = %d, want 10", st.RepliesRefused)
	}
}

// One record with its own Location as the sender used to start an endless
// reply loop (~1,000 handler runs in 3 s). Now its Reply is refused and
// its handler runs once; an event this instance produced to itself gets one
// reply, kept in the storage, not routed again.
func TestOneRecordCannotStartAReplyLoop(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	cfg.ReplyTopicAllowList = []string{"*"} // even a careless allow-list
	s := startReplier(t, cfg)
	own := cfg.Location

	ev, value := request(t, own)
	rawProduce(t, own, []byte(ev.CorrelationID), value)
	if err := receive(t, s.errs, "the handler's Reply"); !errors.Is(err, core.ErrReplyTopicNotAllowed) {
		t.Fatalf("Reply = %v, want ErrReplyTopicNotAllowed", err)
	}

	// The seed's way of asking oneself: Produce, then await the reply in the storage.
	self, _ := core.NewEventObject("ask", nil)
	if err := s.m.Produce(kafkatest.Context(t, 30*time.Second), own, self); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, s.errs, "the handler's Reply to itself"); err != nil {
		t.Fatalf("Reply to an event this instance produced: %v", err)
	}
	reply, err := s.m.ConsumerStorage().Consume(kafkatest.Context(t, 60*time.Second), self.CorrelationID)
	if err != nil || reply.Status != core.StatusCompleted {
		t.Fatalf("stored reply %+v, %v", reply, err)
	}
	// A marker behind both on the one partition: when it is handled, so is
	// everything before it.
	marker, _ := request(t, "api")
	marker.Event = "mark"
	b, _ := marker.MarshalJSON()
	rawProduce(t, own, []byte(marker.CorrelationID), b)
	receive(t, s.marks, "the marker")
	if n := s.runs.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2 (once per request)", n)
	}
}

// Even with both policies wide open, a reply nobody awaits never reaches a
// handler: two services that would answer each other forever exchange one
// reply, dead-lettered as unsolicited.
func TestUnsolicitedReplyIsNeverRouted(t *testing.T) {
	t.Parallel()
	aCfg, bCfg := kafkatest.Config(t, "a"), kafkatest.Config(t, "b")
	aCfg.ReplyTopicAllowList, bCfg.ReplyTopicAllowList = []string{"*"}, []string{"*"}
	a, b := startReplier(t, aCfg), startReplier(t, bCfg)
	// "From" b, to a, first sent by some third service: a reply to it is not
	// a reply to anything of b's.
	ev, _ := request(t, "x")
	ev.AuditLog = append(ev.AuditLog, core.AuditEntry{Location: bCfg.Location, Event: "ask", TimeSent: 2})
	value, _ := ev.MarshalJSON()
	rawProduce(t, aCfg.Location, []byte(ev.CorrelationID), value)
	if err := receive(t, a.errs, "a's Reply"); err != nil {
		t.Fatalf("a's Reply to b: %v", err)
	}
	dl := readKeyed(t, b.m.Config().DeadLetterTopic, ev.CorrelationID)
	if k := kafkatest.Header(dl, core.HeaderDLTErrorKind); k != core.DeadLetterUnsolicitedReply {
		t.Fatalf("b dead-lettered kind %q, want %q", k, core.DeadLetterUnsolicitedReply)
	}
	if a.runs.Load() != 1 || b.runs.Load() != 0 || b.m.Stats().UnsolicitedReplies != 1 {
		t.Fatalf("a ran %d, b ran %d times, b counted %d unsolicited replies; want 1, 0, 1",
			a.runs.Load(), b.runs.Load(), b.m.Stats().UnsolicitedReplies)
	}
}

// Two handlers that forward one event to each other with Produce loop
// until the hop limit stops them: at most MaxHops runs, then a dead letter
// of kind "loop".
func TestHopLimitStopsAForwardingLoop(t *testing.T) {
	t.Parallel()
	aCfg, bCfg := kafkatest.Config(t, "a"), kafkatest.Config(t, "b")
	var runs atomic.Int32
	forward := func(to string) core.HandlerFunc {
		return func(ctx context.Context, ev *core.EventObject) error {
			runs.Add(1)
			m, _ := core.FromContext(ctx)
			return m.Produce(ctx, to, ev)
		}
	}
	for _, c := range []struct {
		cfg *core.Config
		to  string
	}{{&aCfg, bCfg.Location}, {&bCfg, aCfg.Location}} {
		c.cfg.MaxHops = 8
		c.cfg.MaxAttempts = 1
		c.cfg.DeadLetterTopic = c.cfg.Location + ".dlq"
		r := core.NewEventRouter("root")
		r.BindEvent("ping", forward(c.to))
		startRouted(t, *c.cfg, r)
	}
	a := newManager(t, aCfg)
	ev, _ := core.NewEventObject("ping", nil)
	if err := a.Produce(kafkatest.Context(t, 30*time.Second), aCfg.Location, ev); err != nil {
		t.Fatal(err)
	}
	var dlq string
	waitFor(t, func() bool {
		for _, topic := range []string{aCfg.DeadLetterTopic, bCfg.DeadLetterTopic} {
			if low, high := watermarks(t, topic); high > low {
				dlq = topic
				return true
			}
		}
		return false
	})
	dl := readKeyed(t, dlq, ev.CorrelationID)
	if k := kafkatest.Header(dl, core.HeaderDLTErrorKind); k != core.DeadLetterLoop {
		t.Fatalf("dead letter kind %q (%s), want %q", k, kafkatest.Header(dl, core.HeaderDLTError), core.DeadLetterLoop)
	}
	if n := runs.Load(); n > 8 {
		t.Fatalf("%d handler runs, want at most MaxHops (8)", n)
	}

	// A record that arrives with more hops than MaxHops is dead-lettered
	// before any handler runs.
	long := &core.EventObject{CorrelationID: kafkatest.Name(t, "cid"), Event: "ping", Data: json.RawMessage(`{}`)}
	for range 9 {
		long.AuditLog = append(long.AuditLog, core.AuditEntry{Location: "x", Event: "ping"})
	}
	before := runs.Load()
	b, _ := long.MarshalJSON()
	rawProduce(t, aCfg.Location, []byte(long.CorrelationID), b)
	dl = readKeyed(t, aCfg.DeadLetterTopic, long.CorrelationID)
	if k := kafkatest.Header(dl, core.HeaderDLTErrorKind); k != core.DeadLetterLoop || runs.Load() != before {
		t.Fatalf("dead letter kind %q after %d runs, want %q and none", k, runs.Load()-before, core.DeadLetterLoop)
	}
}

// The storage of a service without a router holds what strangers send it,
// bounded by bytes: 40 events of 100 KB into a 1 MiB storage.
func TestStorageBoundedByBytesThroughBroker(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.StorageMaxBytes = 1 << 20
	cfg.TopicPartitions = 1
	m := startManager(t, cfg)
	pad := strings.Repeat("x", 100_000)
	var recs []rawRecord
	for i := range 40 {
		ev := &core.EventObject{CorrelationID: fmt.Sprint("big-", i), Event: "junk", Data: json.RawMessage(`{"pad":"` + pad + `"}`)}
		b, _ := ev.MarshalJSON()
		recs = append(recs, rawRecord{key: []byte(ev.CorrelationID), value: b})
	}
	rawProduceAll(t, cfg.Location, recs)
	waitFor(t, func() bool { return m.Stats().Stored == 40 })
	st, s := m.Stats(), m.ConsumerStorage()
	if s.Bytes() > cfg.StorageMaxBytes || s.Len() > 10 || st.StorageEvicted < 30 {
		t.Fatalf("storage holds %d events, %d bytes; %d evicted; want at most 1 MiB", s.Len(), s.Bytes(), st.StorageEvicted)
	}
	if _, ok := s.Get("big-39"); !ok {
		t.Fatal("newest event evicted")
	}
}

// A routing key of thousands of segments through nested "#" routers used to
// stall its partition for seconds; it is now refused at once (a dead letter
// of kind no_route), and the record behind it is handled.
func TestLongRoutingKeyIsRefused(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.TopicPartitions = 1
	routed := make(chan string, 2)
	root := core.NewEventRouter("root")
	h1, h2 := core.NewEventRouter("#"), core.NewEventRouter("#")
	h2.BindEvent("z", func(_ context.Context, ev *core.EventObject) error { routed <- ev.CorrelationID; return nil })
	h1.IncludeBinder(h2)
	root.IncludeBinder(h1)
	m := startRouted(t, cfg, root)
	long := &core.EventObject{CorrelationID: "long", Event: strings.Repeat("a.", 8000) + "y", Data: json.RawMessage(`{}`)}
	ok := &core.EventObject{CorrelationID: "ok", Event: "a.b.z", Data: json.RawMessage(`{}`)}
	lb, _ := long.MarshalJSON()
	ob, _ := ok.MarshalJSON()
	rawProduceAll(t, cfg.Location, []rawRecord{{key: []byte("long"), value: lb}, {key: []byte("ok"), value: ob}})
	if id := receive(t, routed, "the record behind the long key"); id != "ok" {
		t.Fatalf("routed %s", id)
	}
	dl := readKeyed(t, m.Config().DeadLetterTopic, "long")
	if k, e := kafkatest.Header(dl, core.HeaderDLTErrorKind), kafkatest.Header(dl, core.HeaderDLTError); k != core.DeadLetterNoRoute || !strings.Contains(e, "routing key of") {
		t.Fatalf("dead letter kind %q error %q", k, e)
	}
}

// kafka_replyPartition is read as decimal text first ("0002" is partition
// 2, not the 4-byte integer 808,464,434); Spring's 4-byte form still works;
// a partition the topic does not have falls back to keyed partitioning.
func TestReplyPartitionHeader(t *testing.T) {
	t.Parallel()
	s := startReplier(t, kafkatest.Config(t, "svc"))
	requester := kafkatest.Config(t, "api")
	startManager(t, requester) // its reply topic, 3 partitions
	replies := requester.Location + ".replies"
	tests := []struct {
		name  string
		value []byte
		want  int32 // -1: any
	}{
		{"decimal", []byte("1"), 1},
		{"zero-padded decimal", []byte("0002"), 2},
		{"4-byte big-endian", []byte{0, 0, 0, 2}, 2},
		{"partition the topic lacks", []byte("9"), -1},
	}
	var mu sync.Mutex
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			ev, value := request(t, "api")
			rawProduce(t, s.m.Config().Location, []byte(ev.CorrelationID), value,
				kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(replies)},
				kafka.Header{Key: core.HeaderReplyPartition, Value: tt.value})
			if err := receive(t, s.errs, "the handler's Reply"); err != nil {
				t.Fatalf("Reply = %v, want a valid request answered", err)
			}
			got := readKeyed(t, replies, ev.CorrelationID) // reads any topic
			if tt.want >= 0 && got.TopicPartition.Partition != tt.want {
				t.Fatalf("reply on partition %d, want %d", got.TopicPartition.Partition, tt.want)
			}
		})
	}
	if st := s.m.Stats(); st.DeadLettered != 0 {
		t.Fatalf("%d valid requests dead-lettered", st.DeadLettered)
	}
}

// Produce and Request to a topic that does not exist fail at once with
// ErrUnknownTopic, and do not create it; Config.Kafka can turn creation by
// the broker back on for them.
func TestProduceToMissingTopicFailsFast(t *testing.T) {
	t.Parallel()
	m := startManager(t, kafkatest.Config(t, "svc"))
	missing := kafkatest.Name(t, "missing")
	ev, _ := core.NewEventObject("x", nil)
	if err := m.Produce(kafkatest.Context(t, 60*time.Second), missing, ev); !errors.Is(err, core.ErrUnknownTopic) {
		t.Fatalf("Produce = %v, want ErrUnknownTopic", err)
	}
	if _, err := m.Request(kafkatest.Context(t, 60*time.Second), missing, ev); !errors.Is(err, core.ErrUnknownTopic) {
		t.Fatalf("Request = %v, want ErrUnknownTopic", err)
	}
	if topicExists(t, missing) {
		t.Fatal("the missing topic was created")
	}
	cfg := kafkatest.Config(t, "auto")
	cfg.Kafka["allow.auto.create.topics"] = true
	auto := newManager(t, cfg)
	if err := auto.Produce(kafkatest.Context(t, 60*time.Second), missing, ev); err != nil {
		t.Fatalf("Produce with allow.auto.create.topics: %v", err)
	}
	if !topicExists(t, missing) {
		t.Fatal("allow.auto.create.topics=true did not let the broker create the topic")
	}
}
