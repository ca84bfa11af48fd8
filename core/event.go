package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Event statuses used by the Python kafka-broker package. A new event is
// "pending"; Reply sets "completed". Any status but "pending" and "ongoing"
// marks a reply, which is never routed to a handler as a new request.
const (
	StatusPending   = "pending"
	StatusOngoing   = "ongoing"
	StatusCompleted = "completed"
	StatusSuccess   = "success"
	StatusError     = "error" // an error reply (ReplyError)
	StatusCancelled = "cancelled"
)

// EventObject is the envelope every record carries, field for field the one
// of the Python kafka-broker package. Unknown JSON fields survive a
// decode/encode round trip, so events can be forwarded without loss.
type EventObject struct {
	CorrelationID string          `json:"correlation_id"`
	Status        string          `json:"status"`
	Event         string          `json:"event"`
	Data          json.RawMessage `json:"data"`
	AuditLog      []AuditEntry    `json:"audit_log"`

	extra map[string]json.RawMessage // fields this version does not know
	meta  *recordMeta                // set on consumed events
}

// recordMeta is what the consumer knows about the record an event came from.
type recordMeta struct {
	topic          string
	partition      int32
	offset         int64
	replyTopic     string
	replyPartition int32 // -1 when absent
}

// AuditEntry records one hop of an event.
type AuditEntry struct {
	Data         json.RawMessage `json:"data"`
	Event        string          `json:"event"`
	Location     string          `json:"location"`
	TimeSent     int64           `json:"time_sent"`
	TimeReceived *int64          `json:"time_received"`

	extra map[string]json.RawMessage
}

var emptyObject = json.RawMessage(`{}`)

// NewEventObject returns a pending event with a new UUIDv4 correlation ID.
// data is encoded as JSON; nil becomes {}. A json.RawMessage or []byte is
// used as is after checking that it is valid JSON.
func NewEventObject(event string, data any) (*EventObject, error) {
	raw, err := encodeData(data)
	if err != nil {
		return nil, errorf("kafka-broker: event %q: %w", event, err)
	}
	return &EventObject{
		CorrelationID: uuid.NewString(),
		Status:        StatusPending,
		Event:         event,
		Data:          raw,
		AuditLog:      []AuditEntry{},
	}, nil
}

func encodeData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case nil:
		return emptyObject, nil
	case json.RawMessage:
		if len(d) == 0 {
			return emptyObject, nil
		}
		if !json.Valid(d) {
			return nil, errors.New("data is not valid JSON")
		}
		return d, nil
	case []byte:
		if len(d) == 0 {
			return emptyObject, nil
		}
		if !json.Valid(d) {
			return nil, errors.New("data is not valid JSON")
		}
		return json.RawMessage(d), nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	return b, nil
}

// Decode unmarshals the event's data into v.
func (e *EventObject) Decode(v any) error {
	if e == nil {
		return errors.New("kafka-broker: decode of a nil event")
	}
	data := e.Data
	if len(data) == 0 {
		data = emptyObject
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errorf("kafka-broker: decode data of event %q: %w", e.Event, err)
	}
	return nil
}

// SetData replaces the event's data with v encoded as JSON.
func (e *EventObject) SetData(v any) error {
	raw, err := encodeData(v)
	if err != nil {
		return errorf("kafka-broker: event %q: %w", e.Event, err)
	}
	e.Data = raw
	return nil
}

// Clone returns a deep copy of e, unknown fields included.
func (e *EventObject) Clone() *EventObject {
	if e == nil {
		return nil
	}
	c := *e
	c.Data = cloneRaw(e.Data)
	c.AuditLog = make([]AuditEntry, len(e.AuditLog))
	for i, a := range e.AuditLog {
		c.AuditLog[i] = a.clone()
	}
	c.extra = cloneExtra(e.extra)
	if e.meta != nil {
		m := *e.meta
		c.meta = &m
	}
	return &c
}

// Source tells where a consumed event was read from: its topic, partition
// and offset; ok is false for an event that was not consumed.
func (e *EventObject) Source() (topic string, partition int32, offset int64, ok bool) {
	if e == nil || e.meta == nil {
		return "", 0, 0, false
	}
	return e.meta.topic, e.meta.partition, e.meta.offset, true
}

// ReplyTopic is the topic named by the kafka_replyTopic header of the record
// the event was consumed from, or "" when it had none.
func (e *EventObject) ReplyTopic() string {
	if e == nil || e.meta == nil {
		return ""
	}
	return e.meta.replyTopic
}

// Extra returns an unknown top-level JSON field kept from decoding.
func (e *EventObject) Extra(name string) (json.RawMessage, bool) {
	v, ok := e.extra[name]
	return v, ok
}

func (a AuditEntry) clone() AuditEntry {
	c := a
	c.Data = cloneRaw(a.Data)
	if a.TimeReceived != nil {
		t := *a.TimeReceived
		c.TimeReceived = &t
	}
	c.extra = cloneExtra(a.extra)
	return c
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return append(json.RawMessage(nil), r...)
}

func cloneExtra(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return nil
	}
	c := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		c[k] = cloneRaw(v)
	}
	return c
}

// eventFields is EventObject without methods, for the default codec.
type eventFields struct {
	CorrelationID string          `json:"correlation_id"`
	Status        string          `json:"status"`
	Event         string          `json:"event"`
	Data          json.RawMessage `json:"data"`
	AuditLog      []AuditEntry    `json:"audit_log"`
}

// MarshalJSON writes the wire format; unknown fields kept from decoding follow
// the known ones.
func (e EventObject) MarshalJSON() ([]byte, error) {
	if b, ok, err := encodeEventFast(&e); ok {
		return b, err
	}
	return e.marshalSlow()
}

// marshalSlow is MarshalJSON keeping unknown fields.
func (e EventObject) marshalSlow() ([]byte, error) {
	f := eventFields{e.CorrelationID, e.Status, e.Event, e.Data, e.AuditLog}
	if f.Status == "" {
		f.Status = StatusPending
	}
	if len(f.Data) == 0 {
		f.Data = emptyObject
	}
	if f.AuditLog == nil {
		f.AuditLog = []AuditEntry{}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return appendExtra(b, e.extra)
}

// UnmarshalJSON reads the wire format. Missing status and data get the
// package's defaults ("pending", {}); a numeric correlation ID is read as its
// decimal text.
func (e *EventObject) UnmarshalJSON(b []byte) error {
	if decodeEventFast(b, e) {
		return nil
	}
	return e.unmarshalSlow(b)
}

// unmarshalSlow is UnmarshalJSON keeping unknown fields.
func (e *EventObject) unmarshalSlow(b []byte) error {
	// One pass splits the object into members; data stays raw, and the
	// members this version does not know are kept as they are.
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	if all == nil {
		return errors.New("event is null")
	}
	out := EventObject{}
	var err error
	if raw, ok := all["correlation_id"]; ok {
		if out.CorrelationID, err = correlationID(raw); err != nil {
			return err
		}
		delete(all, "correlation_id")
	}
	if err := takeStrings(all, stringMember{"status", &out.Status}, stringMember{"event", &out.Event}); err != nil {
		return err
	}
	if raw, ok := all["data"]; ok {
		out.Data = raw
		delete(all, "data")
	}
	if raw, ok := all["audit_log"]; ok {
		if !isNull(raw) {
			if err := json.Unmarshal(raw, &out.AuditLog); err != nil {
				return fmt.Errorf("audit_log: %w", err)
			}
		}
		delete(all, "audit_log")
	}
	if len(all) > 0 {
		out.extra = all
	}
	if out.Status == "" {
		out.Status = StatusPending
	}
	if len(out.Data) == 0 || isNull(out.Data) {
		out.Data = emptyObject
	}
	if out.AuditLog == nil {
		out.AuditLog = []AuditEntry{}
	}
	*e = out
	return nil
}

// stringMember is a string member of a JSON object and where it goes.
type stringMember struct {
	name string
	dst  *string
}

// takeStrings moves the members ms out of all into their destinations; a
// member that is null leaves its destination empty.
func takeStrings(all map[string]json.RawMessage, ms ...stringMember) error {
	for _, m := range ms {
		raw, ok := all[m.name]
		if !ok {
			continue
		}
		delete(all, m.name)
		if isNull(raw) {
			continue
		}
		if err := json.Unmarshal(raw, m.dst); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// MarshalJSON writes an audit entry; time_received is null until received.
func (a AuditEntry) MarshalJSON() ([]byte, error) {
	data := a.Data
	if len(data) == 0 {
		data = emptyObject
	}
	type plain struct {
		Data         json.RawMessage `json:"data"`
		Event        string          `json:"event"`
		Location     string          `json:"location"`
		TimeSent     int64           `json:"time_sent"`
		TimeReceived *int64          `json:"time_received"`
	}
	b, err := json.Marshal(plain{data, a.Event, a.Location, a.TimeSent, a.TimeReceived})
	if err != nil {
		return nil, err
	}
	return appendExtra(b, a.extra)
}

// UnmarshalJSON reads an audit entry. Times written as floats (Python's
// time.time()) are truncated to whole seconds.
func (a *AuditEntry) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	out := AuditEntry{}
	if raw, ok := all["data"]; ok {
		out.Data = raw
		delete(all, "data")
	}
	if err := takeStrings(all, stringMember{"event", &out.Event}, stringMember{"location", &out.Location}); err != nil {
		return err
	}
	if raw, ok := all["time_sent"]; ok {
		if !isNull(raw) {
			t, err := unixSecondsRaw(raw)
			if err != nil {
				return fmt.Errorf("time_sent: %w", err)
			}
			out.TimeSent = t
		}
		delete(all, "time_sent")
	}
	if raw, ok := all["time_received"]; ok {
		if !isNull(raw) {
			t, err := unixSecondsRaw(raw)
			if err != nil {
				return fmt.Errorf("time_received: %w", err)
			}
			out.TimeReceived = &t
		}
		delete(all, "time_received")
	}
	if len(all) > 0 {
		out.extra = all
	}
	*a = out
	return nil
}

func unixSecondsRaw(raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	return unixSeconds(n)
}

func correlationID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("correlation_id: want a string, got %s", raw)
}

func unixSeconds(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, err
	}
	return int64(f), nil
}

// appendExtra splices extra members into the JSON object b.
func appendExtra(b []byte, extra map[string]json.RawMessage) ([]byte, error) {
	if len(extra) == 0 {
		return b, nil
	}
	x, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	// b ends with '}' and x starts with '{'; both are non-empty objects.
	out := make([]byte, 0, len(b)+len(x))
	out = append(out, b[:len(b)-1]...)
	out = append(out, ',')
	out = append(out, x[1:]...)
	return out, nil
}

// stampSent returns a copy of ev with an audit entry for this hop appended.
func stampSent(ev *EventObject, location string, now time.Time) *EventObject {
	out := *ev
	out.AuditLog = make([]AuditEntry, len(ev.AuditLog), len(ev.AuditLog)+1)
	copy(out.AuditLog, ev.AuditLog)
	data := ev.Data
	if len(data) == 0 {
		data = emptyObject
	}
	out.AuditLog = append(out.AuditLog, AuditEntry{
		Data:     data,
		Event:    ev.Event,
		Location: location,
		TimeSent: now.Unix(),
	})
	return &out
}

// stampReceived sets time_received on the last audit entry when it is unset.
func stampReceived(ev *EventObject, now time.Time) {
	if n := len(ev.AuditLog); n > 0 && ev.AuditLog[n-1].TimeReceived == nil {
		t := now.Unix()
		ev.AuditLog[n-1].TimeReceived = &t
	}
}
