package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Fast paths of the EventObject codec. Almost every record carries exactly
// the five known fields (and the five known audit fields), so it is decoded
// in one encoding/json pass into plain structs, and a cheap scan of the
// object keys checks that nothing is unknown; only when something is (or a
// key is escaped or differently cased, or the correlation ID is a number)
// the field-preserving slow path runs. Encoding appends the JSON by hand
// unless unknown fields must be kept. FuzzFastDecodeMatchesSlow and
// FuzzFastEncodeMatchesSlow check that both paths agree.

var (
	eventKnown = map[string]bool{"correlation_id": true, "status": true, "event": true, "data": true, "audit_log": true}
	auditKnown = map[string]bool{"data": true, "event": true, "location": true, "time_sent": true, "time_received": true}
)

type eventWire struct {
	CorrelationID string          `json:"correlation_id"` // a number fails here and takes the slow path
	Status        string          `json:"status"`
	Event         string          `json:"event"`
	Data          json.RawMessage `json:"data"`
	AuditLog      []auditWire     `json:"audit_log"`
}

type auditWire struct {
	Data         json.RawMessage `json:"data"`
	Event        string          `json:"event"`
	Location     string          `json:"location"`
	TimeSent     float64         `json:"time_sent"` // Python writes floats
	TimeReceived *float64        `json:"time_received"`
}

// decodeEventFast decodes b into e when every key is a known one; false
// when the slow path must run (unknown or unusual keys, a numeric
// correlation ID, or an error, which the slow path then reports as it
// always did).
func decodeEventFast(b []byte, e *EventObject) bool {
	var w eventWire
	if err := json.Unmarshal(b, &w); err != nil || !onlyKnownKeys(b, &w) {
		return false
	}
	audit := make([]AuditEntry, len(w.AuditLog))
	for i, a := range w.AuditLog {
		sent, ok := wholeSeconds(a.TimeSent)
		if !ok {
			return false
		}
		audit[i] = AuditEntry{Data: a.Data, Event: a.Event, Location: a.Location, TimeSent: sent}
		if a.TimeReceived != nil {
			t, ok := wholeSeconds(*a.TimeReceived)
			if !ok {
				return false
			}
			audit[i].TimeReceived = &t
		}
	}
	*e = EventObject{CorrelationID: w.CorrelationID, Status: w.Status, Event: w.Event, Data: w.Data, AuditLog: audit}
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
// data value is checked with json.Valid once (an audit entry sharing the
// event's data is not checked again) and copied as is, where encoding/json
// would re-scan and rewrite every copy.
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
	data, err := validData(e.Data, nil)
	if err != nil {
		return nil, true, err
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
	b = append(b, data...)
	b = append(b, `,"audit_log":[`...)
	for i, a := range e.AuditLog {
		if i > 0 {
			b = append(b, ',')
		}
		ad, err := validData(a.Data, data)
		if err != nil {
			return nil, true, err
		}
		b = append(b, `{"data":`...)
		b = append(b, ad...)
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

// validData returns d, or {} when it is empty, after checking that it is
// JSON; d sharing checked's bytes is not checked again.
func validData(d, checked json.RawMessage) (json.RawMessage, error) {
	if len(d) == 0 {
		return emptyObject, nil
	}
	if len(d) == len(checked) && &d[0] == &checked[0] {
		return d, nil
	}
	if !json.Valid(d) {
		return nil, errors.New("json: invalid data")
	}
	return d, nil
}

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters and U+2028/U+2029 included).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// onlyKnownKeys reports whether every key of the valid JSON object b, and of
// the objects in its audit_log array, is spelled exactly as a known one. w is
// b decoded: the data values, the bulk of the bytes, are skipped by
// comparing them with their decoded raw copies instead of being scanned.
func onlyKnownKeys(b []byte, w *eventWire) bool {
	i, ok := openObject(b, 0)
	for ok && i < len(b) && b[i] == '"' {
		var key []byte
		key, i = memberKey(b, i)
		switch string(key) {
		case "data":
			i = skipKnown(b, i, w.Data)
		case "audit_log":
			i, ok = auditKeysKnown(b, i, w.AuditLog)
		default:
			if !eventKnown[string(key)] {
				return false
			}
			i = skipValue(b, i)
		}
		i = nextMember(b, i)
	}
	return ok && i < len(b) && b[i] == '}'
}

func auditKeysKnown(b []byte, i int, log []auditWire) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return skipValue(b, i), true // null
	}
	i = skipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		j, ok := openObject(b, i)
		if !ok || n >= len(log) {
			return i, false
		}
		for j < len(b) && b[j] == '"' {
			var key []byte
			key, j = memberKey(b, j)
			switch {
			case string(key) == "data":
				j = skipKnown(b, j, log[n].Data)
			case auditKnown[string(key)]:
				j = skipValue(b, j)
			default:
				return j, false
			}
			j = nextMember(b, j)
		}
		if j >= len(b) || b[j] != '}' {
			return j, false
		}
		i = nextMember(b, j+1)
	}
	return i + 1, i < len(b)
}

// openObject returns the index of the first key of the object at b[i].
func openObject(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// memberKey returns the raw key of the member at b[i] and the index of its value.
func memberKey(b []byte, i int) ([]byte, int) {
	end := skipString(b, i)
	key := b[i+1 : max(i+1, end-1)]
	i = skipSpace(b, end) // ':'
	return key, skipSpace(b, i+1)
}

// nextMember skips the comma after a member or element.
func nextMember(b []byte, i int) int {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	return i
}

// skipKnown skips the value at b[i], whose decoded raw copy is likely raw.
// Only a value that cannot be a prefix of a longer one is compared.
func skipKnown(b []byte, i int, raw []byte) int {
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[' || raw[0] == '"') && bytes.HasPrefix(b[i:], raw) {
		return i + len(raw)
	}
	return skipValue(b, i)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		// The quote ends the string unless an odd number of backslashes precede it.
		n := 0
		for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
	return len(b)
}

// skipValue returns the index after the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}
