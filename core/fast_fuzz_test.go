package core

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzFastDecodeMatchesSlow(f *testing.F) {
	f.Add([]byte(`{"correlation_id":"x","status":"pending","event":"a.b","data":{"k":"v\"}"},"audit_log":[{"data":{},"event":"a.b","location":"l","time_sent":1,"time_received":null}]}`))
	f.Add([]byte(`{"correlation_id":"x","event":"e","data":null,"audit_log":null}`))
	f.Add([]byte(`{"audit_log":[{"time_sent":1.5e9,"time_received":2}]}`))
	f.Add([]byte(`{"Event":"x","event":"y"}`))
	f.Add([]byte(`{"correlation_id":12,"event":"e","x":[1,{"a":"]"}]}`))
	f.Add([]byte(`{"event":"e","audit_log":[{"data":"\\\\","host":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast EventObject
		if !decodeEventFast(b, &fast) {
			return
		}
		var slow EventObject
		if err := slow.unmarshalSlow(b); err != nil {
			t.Fatalf("fast path accepted %q, slow path: %v", b, err)
		}
		fj, _ := json.Marshal(&fast)
		sj, _ := json.Marshal(&slow)
		if !reflect.DeepEqual(fast, slow) && string(fj) != string(sj) {
			t.Fatalf("differ on %q:\nfast %s\nslow %s", b, fj, sj)
		}
		if len(slow.extra) > 0 {
			t.Fatalf("fast path dropped unknown fields of %q: %v", b, slow.extra)
		}
		for _, a := range slow.AuditLog {
			if len(a.extra) > 0 {
				t.Fatalf("fast path dropped unknown audit fields of %q", b)
			}
		}
	})
}

func FuzzFastEncodeMatchesSlow(f *testing.F) {
	f.Add("id-1", "pending", "a.b", []byte(`{"k":"<v>&\u2028"}`), "loc", int64(17), true)
	f.Add("", "", "", []byte(nil), "", int64(-1), false)
	f.Add("\x00\xff\"\\", "s", "e\u2029", []byte(` [1, 2] `), "l\n", int64(1<<62), true)
	f.Fuzz(func(t *testing.T, id, status, event string, data []byte, loc string, ts int64, recv bool) {
		ev := &EventObject{CorrelationID: id, Status: status, Event: event, Data: data}
		ev.AuditLog = []AuditEntry{{Data: data, Event: event, Location: loc, TimeSent: ts}}
		if recv {
			ev.AuditLog[0].TimeReceived = &ts
			ev.AuditLog = append(ev.AuditLog, AuditEntry{Data: json.RawMessage(`{"x":1}`), Location: loc})
		}
		fast, okFast, errFast := encodeEventFast(ev)
		slow, errSlow := ev.marshalSlow()
		if !okFast {
			t.Fatal("fast path refused an event without unknown fields")
		}
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("errors differ: fast %v, slow %v", errFast, errSlow)
		}
		if errFast != nil {
			return
		}
		if !json.Valid(fast) {
			t.Fatalf("fast output not JSON: %s", fast)
		}
		var x, y any
		_ = json.Unmarshal(fast, &x)
		_ = json.Unmarshal(slow, &y)
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("differ:\nfast %s\nslow %s", fast, slow)
		}
	})
}
