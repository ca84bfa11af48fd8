package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Fast paths of the EventObject codec. Almost every record carries exactly
// the five known fields (and the five known audit fields), so it is decoded
// in one pass into plain structs with encoding/json/v2 (through
// github.com/go-json-experiment/json, which aliases the standard library from
// Go 1.27), which also collects any member it does not know. Only when there
// is one (or the record is unusual: a numeric correlation ID, duplicate or
// differently cased names, invalid UTF-8, an error) the field-preserving
// slow path runs, with encoding/json's lenient rules. Encoding appends the
// JSON by hand unless unknown fields must be kept. FuzzFastDecodeMatchesSlow
// and FuzzFastEncodeMatchesSlow check that both paths agree.

type eventWire struct {
	CorrelationID string         `json:"correlation_id"` // a number fails here and takes the slow path
	Status        string         `json:"status"`
	Event         string         `json:"event"`
	Data          jsontext.Value `json:"data"`
	AuditLog      []auditWire    `json:"audit_log"`
	Unknown       jsontext.Value `json:",embed"`
}

type auditWire struct {
	Data         jsontext.Value `json:"data"`
	Event        string         `json:"event"`
	Location     string         `json:"location"`
	TimeSent     float64        `json:"time_sent"` // Python writes floats
	TimeReceived *float64       `json:"time_received"`
	Unknown      jsontext.Value `json:",embed"`
}

// decodeEventFast decodes b into e when every member is a known one; false
// when the slow path must run (unknown or unusual members, a numeric
// correlation ID, or an error, which the slow path then reports as it
// always did).
func decodeEventFast(b []byte, e *EventObject) bool {
	if i := skipSpace(b, 0); i >= len(b) || b[i] != '{' {
		return false
	}
	var w eventWire
	if err := jsonv2.Unmarshal(b, &w); err != nil || len(w.Unknown) > 0 {
		return false
	}
	audit := make([]AuditEntry, len(w.AuditLog))
	for i, a := range w.AuditLog {
		if len(a.Unknown) > 0 {
			return false
		}
		sent, ok := wholeSeconds(a.TimeSent)
		if !ok {
			return false
		}
		audit[i] = AuditEntry{Data: json.RawMessage(a.Data), Event: a.Event, Location: a.Location, TimeSent: sent}
		if a.TimeReceived != nil {
			t, ok := wholeSeconds(*a.TimeReceived)
			if !ok {
				return false
			}
			audit[i].TimeReceived = &t
		}
	}
	*e = EventObject{CorrelationID: w.CorrelationID, Status: w.Status, Event: w.Event, Data: json.RawMessage(w.Data), AuditLog: audit}
	if e.Status == "" {
		e.Status = StatusPending
	}
	if len(e.Data) == 0 || bytes.Equal(e.Data, []byte("null")) {
		e.Data = emptyObject
	}
	return true
}

// wholeSeconds truncates f as unixSeconds does; false when f is too large for
// a float64 to have held the integer exactly (the slow path reads it as text).
func wholeSeconds(f float64) (int64, bool) {
	const exact = 1 << 53
	if f >= exact || f <= -exact {
		return 0, false
	}
	return int64(f), true
}

// encodeEventFast encodes e when neither it nor its audit entries carry
// unknown fields; ok is false otherwise. It appends the JSON by hand: each
// data value is validated and compacted once (an audit entry sharing the
// event's data gets a copy of the bytes already written), where
// encoding/json would re-scan and rewrite every copy.
func encodeEventFast(e *EventObject) (b []byte, ok bool, err error) {
	if len(e.extra) > 0 {
		return nil, false, nil
	}
	size := 96 + len(e.CorrelationID) + len(e.Event) + len(e.Data)
	for _, a := range e.AuditLog {
		if len(a.extra) > 0 {
			return nil, false, nil
		}
		size += 96 + len(a.Event) + len(a.Location) + len(a.Data)
	}
	status := e.Status
	if status == "" {
		status = StatusPending
	}
	b = make([]byte, 0, size)
	b = append(b, `{"correlation_id":`...)
	b = appendString(b, e.CorrelationID)
	b = append(b, `,"status":`...)
	b = appendString(b, status)
	b = append(b, `,"event":`...)
	b = appendString(b, e.Event)
	b = append(b, `,"data":`...)
	dataAt := len(b)
	if b, err = appendData(b, e.Data); err != nil {
		return nil, true, err
	}
	dataEnd := len(b)
	b = append(b, `,"audit_log":[`...)
	for i, a := range e.AuditLog {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"data":`...)
		if sameBytes(a.Data, e.Data) {
			b = append(b, b[dataAt:dataEnd]...)
		} else if b, err = appendData(b, a.Data); err != nil {
			return nil, true, err
		}
		b = append(b, `,"event":`...)
		b = appendString(b, a.Event)
		b = append(b, `,"location":`...)
		b = appendString(b, a.Location)
		b = append(b, `,"time_sent":`...)
		b = strconv.AppendInt(b, a.TimeSent, 10)
		b = append(b, `,"time_received":`...)
		if a.TimeReceived == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *a.TimeReceived, 10)
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b, true, nil
}

// appendData appends d compacted, as encoding/json writes a RawMessage, or
// {} when d is empty; an error says where d stops being JSON.
func appendData(b []byte, d json.RawMessage) ([]byte, error) {
	if len(d) == 0 {
		return append(b, emptyObject...), nil
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, d); err != nil {
		return b, fmt.Errorf("data: %w", err)
	}
	return buf.Bytes(), nil
}

// sameBytes reports whether x and y are the same slice of memory (both
// empty counts).
func sameBytes(x, y []byte) bool {
	if len(x) != len(y) {
		return false
	}
	return len(x) == 0 || &x[0] == &y[0]
}

// appendString appends s as a JSON string. Invalid UTF-8 is replaced with
// U+FFFD, as encoding/json does; the error saying so is not one.
func appendString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
