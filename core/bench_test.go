package core

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Micro-benchmarks of the per-event work the library adds on top of
// librdkafka: routing, the EventObject codec, record decoding, the whole
// consumer dispatch of one record, and the encoding of a produced record.
// Timing targets live in BENCHMARKS.md, not here.
//
//	go test -run '^$' -bench . -benchmem ./core/

// benchData is a typical small event body.
var benchData = json.RawMessage(`{"order_id":123456,"customer":"c-4711","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":99.5,"currency":"EUR"}`)

// benchEvent is an event as a service receives it: one hop in its audit log.
func benchEvent(b *testing.B) *EventObject {
	b.Helper()
	ev, err := NewEventObject("order.created", benchData)
	if err != nil {
		b.Fatal(err)
	}
	return stampSent(ev, "orders", time.Unix(1_700_000_000, 0))
}

func benchRecord(b *testing.B) *kafka.Message {
	b.Helper()
	ev := benchEvent(b)
	value, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	topic := "billing"
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 1, Offset: 42},
		Key:            []byte(ev.CorrelationID),
		Value:          value,
		Headers:        []kafka.Header{{Key: HeaderCorrelationID, Value: []byte(ev.CorrelationID)}},
	}
}

func BenchmarkEventObjectMarshal(b *testing.B) {
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventObjectUnmarshal(b *testing.B) {
	value := benchRecord(b).Value
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		var ev EventObject
		if err := json.Unmarshal(value, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainStructUnmarshal is the floor: the same bytes into a struct
// without custom unmarshalers, as hand-written code would decode them.
func BenchmarkPlainStructUnmarshal(b *testing.B) {
	type audit struct {
		Data         json.RawMessage `json:"data"`
		Event        string          `json:"event"`
		Location     string          `json:"location"`
		TimeSent     int64           `json:"time_sent"`
		TimeReceived *int64          `json:"time_received"`
	}
	type plain struct {
		CorrelationID string          `json:"correlation_id"`
		Status        string          `json:"status"`
		Event         string          `json:"event"`
		Data          json.RawMessage `json:"data"`
		AuditLog      []audit         `json:"audit_log"`
	}
	value := benchRecord(b).Value
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		var ev plain
		if err := json.Unmarshal(value, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	msg := benchRecord(b)
	b.SetBytes(int64(len(msg.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRecord(msg, DefaultMaxRecordBytes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventObjectClone(b *testing.B) {
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = ev.Clone()
	}
}

func nopHandler(context.Context, *EventObject) error { return nil }

func nopMiddleware(next HandlerFunc) HandlerFunc {
	return func(ctx context.Context, ev *EventObject) error { return next(ctx, ev) }
}

// benchRouter binds, under root:
//
//	created            exact, one segment
//	order.created      nested router
//	a.b.c.created      three nested routers
//	user.*             "*" wildcard
//	audit.#            "#" wildcard
//	mw.created         nested, two middlewares on root and one on mw
func benchRouter(withMiddleware bool) *EventRouter {
	root := NewEventRouter("root")
	root.BindEvent("created", nopHandler)

	order := NewEventRouter("order")
	order.BindEvent("created", nopHandler)
	root.IncludeBinder(order)

	a, bb, c := NewEventRouter("a"), NewEventRouter("b"), NewEventRouter("c")
	c.BindEvent("created", nopHandler)
	bb.IncludeBinder(c)
	a.IncludeBinder(bb)
	root.IncludeBinder(a)

	user := NewEventRouter("user")
	user.BindEvent("*", nopHandler)
	root.IncludeBinder(user)

	audit := NewEventRouter("audit")
	audit.BindEvent("#", nopHandler)
	root.IncludeBinder(audit)

	if withMiddleware {
		mw := NewEventRouter("mw")
		mw.BindEvent("created", nopHandler)
		mw.Use(nopMiddleware)
		root.IncludeBinder(mw)
		root.Use(nopMiddleware, nopMiddleware)
	}
	return root
}

var routerCases = []struct {
	name, key string
	mw        bool
}{
	{"exact", "created", false},
	{"nested", "order.created", false},
	{"nested3", "a.b.c.created", false},
	{"star", "user.updated", false},
	{"hash", "audit.x.y.z", false},
	{"middleware", "mw.created", true},
}

func BenchmarkRouterMatch(b *testing.B) {
	for _, tt := range routerCases {
		b.Run(tt.name, func(b *testing.B) {
			r := benchRouter(tt.mw)
			if _, ok := r.Match(tt.key); !ok {
				b.Fatalf("no route for %q", tt.key)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Match(tt.key)
			}
		})
	}
}

func BenchmarkRouterExecuteEvent(b *testing.B) {
	ctx := context.Background()
	for _, tt := range routerCases {
		b.Run(tt.name, func(b *testing.B) {
			r := benchRouter(tt.mw)
			ev := &EventObject{CorrelationID: "id", Event: tt.key, Data: emptyObject}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.ExecuteEvent(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchManager is a Manager that is never started: its producer points at a
// closed port, and only the in-process paths are exercised.
func benchManager(b *testing.B) *Manager {
	b.Helper()
	m, err := NewManager(Config{BootstrapServers: "127.0.0.1:1", Location: "billing"},
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

// BenchmarkHandleRecord is the library's whole per-record work on the
// consumer, librdkafka excluded: decode, look for a waiter, route through a
// nested router, run the handler (with its retry policy), count. Its
// allocs/op is the allocations per dispatched event.
func BenchmarkHandleRecord(b *testing.B) {
	m := benchManager(b)
	m.SetRouter(benchRouter(false))
	msg := benchRecord(b)
	b.SetBytes(int64(len(msg.Value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.dispatch.handle(m.handlerCtx, msg); !ok {
			b.Fatal("not handled")
		}
	}
}

// BenchmarkNewMessage is what Produce does before librdkafka: validate,
// stamp the audit entry, encode, build the record.
func BenchmarkNewMessage(b *testing.B) {
	m := benchManager(b)
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.newMessage("orders", ev, -1); err != nil {
			b.Fatal(err)
		}
	}
}
