package core_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// pythonRecord is a record value exactly as Python's json.dumps writes it:
// spaces after separators, \u escapes, null time_received, a float time,
// and a field this version does not know.
const pythonRecord = `{"correlation_id": "5b0f5d1e-3f5a-4c57-9f0e-2a4f1c9d8e7b", "status": "pending", "event": "test.return", ` +
	`"data": {"name": "Caf\u00e9 \u2615", "items": [1, 2.5, null, "x"], "nested": {"a": {"b": true}}, "none": null}, ` +
	`"audit_log": [{"data": {"name": "Caf\u00e9 \u2615"}, "event": "test.return", "location": "python-svc", "time_sent": 1764280000.625, "time_received": null, "host": "py-1"}], ` +
	`"priority": 5, "tags": ["a", "b"]}`

func TestEventObjectPythonWireFormat(t *testing.T) {
	var ev core.EventObject
	if err := json.Unmarshal([]byte(pythonRecord), &ev); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if ev.CorrelationID != "5b0f5d1e-3f5a-4c57-9f0e-2a4f1c9d8e7b" || ev.Status != "pending" || ev.Event != "test.return" {
		t.Fatalf("envelope: %+v", ev)
	}
	var data struct {
		Name   string
		Items  []any
		Nested map[string]map[string]bool
		None   *string
	}
	if err := ev.Decode(&data); err != nil {
		t.Fatal(err)
	}
	if data.Name != "Café ☕" || len(data.Items) != 4 || data.Items[2] != nil || !data.Nested["a"]["b"] || data.None != nil {
		t.Fatalf("data: %+v", data)
	}
	if len(ev.AuditLog) != 1 {
		t.Fatalf("audit log: %+v", ev.AuditLog)
	}
	a := ev.AuditLog[0]
	if a.Location != "python-svc" || a.TimeSent != 1764280000 || a.TimeReceived != nil || a.Event != "test.return" {
		t.Fatalf("audit entry: %+v", a)
	}

	// Round trip: unknown fields, at both levels, survive.
	out, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back["priority"] != float64(5) || !reflect.DeepEqual(back["tags"], []any{"a", "b"}) {
		t.Fatalf("unknown top-level fields lost: %s", out)
	}
	entry := back["audit_log"].([]any)[0].(map[string]any)
	if entry["host"] != "py-1" || entry["time_received"] != nil {
		t.Fatalf("audit entry after round trip: %v", entry)
	}
	var again core.EventObject
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if raw, ok := again.Extra("priority"); !ok || string(raw) != "5" {
		t.Fatalf("Extra(priority) = %s, %v", raw, ok)
	}
}

func TestEventObjectDefaults(t *testing.T) {
	ev, err := core.NewEventObject("a.b", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(ev.CorrelationID)
	if err != nil || id.Version() != 4 {
		t.Fatalf("correlation ID %q is not a UUIDv4", ev.CorrelationID)
	}
	if ev.Status != "pending" || string(ev.Data) != "{}" || ev.AuditLog == nil {
		t.Fatalf("defaults: %+v", ev)
	}
	out, _ := json.Marshal(ev)
	for _, want := range []string{`"status":"pending"`, `"data":{}`, `"audit_log":[]`, `"correlation_id":"` + ev.CorrelationID + `"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	// A Python sender may write the correlation ID as a number.
	var num core.EventObject
	if err := json.Unmarshal([]byte(`{"correlation_id": 12345, "event": "e"}`), &num); err != nil || num.CorrelationID != "12345" {
		t.Fatalf("numeric correlation_id: %v %q", err, num.CorrelationID)
	}
	if err := json.Unmarshal([]byte(`{"correlation_id": {"x": 1}, "event": "e"}`), &num); err == nil {
		t.Fatal("object correlation_id accepted")
	}
	// Missing fields decode to the package's defaults.
	var minimal core.EventObject
	if err := json.Unmarshal([]byte(`{"correlation_id":"x","event":"e"}`), &minimal); err != nil {
		t.Fatal(err)
	}
	if minimal.Status != "pending" || string(minimal.Data) != "{}" || len(minimal.AuditLog) != 0 {
		t.Fatalf("defaults after decode: %+v", minimal)
	}
}

func TestNewEventObjectBadData(t *testing.T) {
	tests := []struct {
		name string
		data any
	}{
		{"channel", make(chan int)},
		{"func", func() {}},
		{"NaN", math.NaN()},
		{"invalid raw", json.RawMessage(`{"a":`)},
		{"invalid bytes", []byte("not json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ev, err := core.NewEventObject("e", tt.data); err == nil {
				t.Fatalf("NewEventObject accepted %v: %+v", tt.data, ev)
			}
		})
	}
}

// TestEventObjectEncodesCompactData: data as Python writes it (spaces, a
// newline) goes out compacted, one line per record, in the event and in each
// audit entry; a record read back has the same meaning.
func TestEventObjectEncodesCompactData(t *testing.T) {
	var ev core.EventObject
	if err := json.Unmarshal([]byte(`{"correlation_id": "c1", "event": "a.b", "data": {"k": [1, 2],`+"\n"+` "s": "x y"},
		"audit_log": [{"data": {"k": [1, 2],`+"\n"+` "s": "x y"}, "event": "a.b", "location": "py", "time_sent": 1, "time_received": 2}]}`), &ev); err != nil {
		t.Fatal(err)
	}
	ev.AuditLog = append(ev.AuditLog, core.AuditEntry{Data: ev.Data, Event: "a.b", Location: "go", TimeSent: 3})
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	const compact = `{"k":[1,2],"s":"x y"}`
	if n := strings.Count(string(b), `"data":`+compact); n != 3 || strings.ContainsAny(string(b), "\n") {
		t.Fatalf("data not compacted in event and audit entries (%d of 3): %s", n, b)
	}
	var back core.EventObject
	if err := json.Unmarshal(b, &back); err != nil || string(back.Data) != compact || len(back.AuditLog) != 2 {
		t.Fatalf("read back %s: %+v, %v", b, back, err)
	}
	ev.Data = json.RawMessage(`{"k": }`)
	if _, err := ev.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "invalid character") {
		t.Fatalf("invalid data: error %v, want one naming the bad character", err)
	}
}

func TestEventObjectDecodeError(t *testing.T) {
	ev, _ := core.NewEventObject("e", map[string]string{"n": "text"})
	var v struct{ N int }
	if err := ev.Decode(&v); err == nil {
		t.Fatal("Decode of a string into an int succeeded")
	}
}

func FuzzEventObjectDecode(f *testing.F) {
	f.Add([]byte(pythonRecord))
	f.Add([]byte(`{"correlation_id":"x","event":"e","data":null,"audit_log":null}`))
	f.Add([]byte(`{"audit_log":[{"time_sent":1.5e9,"time_received":2}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev core.EventObject
		if err := json.Unmarshal(b, &ev); err != nil {
			return
		}
		out, err := json.Marshal(&ev)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode: %v", b, err)
		}
		var again core.EventObject
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("cannot decode own output %q: %v", out, err)
		}
		out2, err := json.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		var x, y any
		_ = json.Unmarshal(out, &x)
		_ = json.Unmarshal(out2, &y)
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("round trip not stable:\n%s\n%s", out, out2)
		}
	})
}
