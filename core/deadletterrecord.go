package core

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// DeadLetter is one record of a dead-letter topic, decoded: the event when
// its value is one, every header, and what the kafka_dlt-* headers say.
type DeadLetter struct {
	// Topic, Partition and Offset are where the dead letter is.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Timestamp is the record's timestamp: when it was dead-lettered.
	Timestamp time.Time `json:"timestamp"`
	// Key is the record key (the correlation ID, as the library writes it).
	Key string `json:"key"`
	// CorrelationID is the event's, else the key, else the
	// kafka_correlationId header.
	CorrelationID string `json:"correlation_id"`

	// Kind is HeaderDLTErrorKind: DeadLetterHandler, DeadLetterNoRoute, a
	// Malformed* kind, ...
	Kind string `json:"kind"`
	// Error is HeaderDLTError, the failure's text.
	Error string `json:"error"`
	// OriginalTopic, OriginalPartition and OriginalOffset are where the
	// record was consumed from (-1 when the headers lack them).
	OriginalTopic     string `json:"original_topic"`
	OriginalPartition int32  `json:"original_partition"`
	OriginalOffset    int64  `json:"original_offset"`
	// Attempts is how often the handler ran (0: it never did).
	Attempts int `json:"attempts"`
	// Truncated lists what was cut to fit the dead-letter topic (key, value,
	// headers, error; HeaderDLTTruncated); OriginalSize is the original
	// record's size in bytes then, and ValueDropped says why none of the
	// value was kept.
	Truncated    []string `json:"truncated,omitempty"`
	OriginalSize int      `json:"original_size,omitempty"`
	ValueDropped string   `json:"value_dropped,omitempty"`
	// InvalidFields is HeaderDLTInvalidFields (kind "invalid"), a JSON array.
	InvalidFields json.RawMessage `json:"invalid_fields,omitempty"`
	// RedriveCount is how often the record was redriven before it was
	// dead-lettered this time (HeaderDLTRedriveCount; 0 when never).
	RedriveCount int `json:"redrive_count"`
	// RedriveSource is HeaderDLTRedriveSource: the dead letter the record
	// was redriven from when it was dead-lettered again.
	RedriveSource string `json:"redrive_source,omitempty"`

	// Event is the record's value decoded, when it is an event.
	Event *EventObject `json:"event,omitempty"`
	// DecodeError says why the value is not an event; RawValue then holds
	// it as text (bytes that are not UTF-8 are replaced in JSON).
	DecodeError string `json:"decode_error,omitempty"`
	RawValue    string `json:"raw_value,omitempty"`
	// Headers are all of the record's headers in order, kafka_dlt-* ones
	// included.
	Headers []DeadLetterHeader `json:"headers"`

	// Redriven tells when the dead letter was redriven, read from the
	// redrive ledger; nil when it never was.
	Redriven *RedriveRecord `json:"redriven,omitempty"`
	// Refusal is why a redrive with default options (and no --force) would
	// refuse the dead letter, one of the Refused* codes, the target topic
	// aside; "" when it would redrive it. RefusalDetail says it for people.
	Refusal       string `json:"refusal,omitempty"`
	RefusalDetail string `json:"refusal_detail,omitempty"`

	key     []byte
	value   []byte
	headers []kafka.Header
}

// DeadLetterHeader is one record header. Value holds the header's bytes.
type DeadLetterHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Cut reports whether the dead letter's key or value was cut, or its value
// dropped, to fit the dead-letter topic: it is no copy of the original
// record. A cut error text or cut headers (HeadersCut) leave key and value whole.
func (d *DeadLetter) Cut() bool {
	return d.ValueDropped != "" || slices.Contains(d.Truncated, "key") || slices.Contains(d.Truncated, "value")
}

// HeadersCut reports whether some of the original record's headers were
// dropped to fit the dead-letter topic.
func (d *DeadLetter) HeadersCut() bool { return slices.Contains(d.Truncated, "headers") }

// EventName is the event's routing key, "" when the value is not an event.
func (d *DeadLetter) EventName() string {
	if d.Event == nil {
		return ""
	}
	return d.Event.Event
}

// decodeDeadLetter reads a record of a dead-letter topic.
func decodeDeadLetter(msg *kafka.Message) *DeadLetter {
	d := &DeadLetter{
		Partition:         msg.TopicPartition.Partition,
		Offset:            int64(msg.TopicPartition.Offset),
		Timestamp:         msg.Timestamp,
		Key:               string(msg.Key),
		OriginalPartition: -1,
		OriginalOffset:    -1,
		Headers:           make([]DeadLetterHeader, 0, len(msg.Headers)),
		key:               msg.Key,
		value:             msg.Value,
		headers:           msg.Headers,
	}
	if msg.TopicPartition.Topic != nil {
		d.Topic = *msg.TopicPartition.Topic
	}
	var headerID string
	for _, h := range msg.Headers {
		v := string(h.Value)
		d.Headers = append(d.Headers, DeadLetterHeader{Key: h.Key, Value: v})
		if h.Key == HeaderCorrelationID {
			headerID = v
			continue
		}
		d.readHeader(h.Key, v)
	}
	d.decodeValue(msg.Value)
	for _, id := range []string{d.Key, headerID} {
		if d.CorrelationID == "" {
			d.CorrelationID = id
		}
	}
	return d
}

// readHeader keeps what a kafka_dlt-* header says.
func (d *DeadLetter) readHeader(key, v string) {
	switch key {
	case HeaderDLTError:
		d.Error = v
	case HeaderDLTErrorKind:
		d.Kind = v
	case HeaderDLTOriginalTopic:
		d.OriginalTopic = v
	case HeaderDLTOriginalPartition:
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			d.OriginalPartition = int32(n)
		}
	case HeaderDLTOriginalOffset:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			d.OriginalOffset = n
		}
	case HeaderDLTAttempts:
		d.Attempts, _ = strconv.Atoi(v)
	case HeaderDLTTruncated:
		d.Truncated = nil
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				d.Truncated = append(d.Truncated, c)
			}
		}
	case HeaderDLTOriginalSize:
		d.OriginalSize, _ = strconv.Atoi(v)
	case HeaderDLTValueDropped:
		d.ValueDropped = v
	case HeaderDLTInvalidFields:
		if json.Valid([]byte(v)) {
			d.InvalidFields = json.RawMessage(v)
		}
	case HeaderDLTRedriveCount:
		d.RedriveCount, _ = strconv.Atoi(v)
	case HeaderDLTRedriveSource:
		d.RedriveSource = v
	}
}

// decodeValue decodes the dead letter's value as an event, or says why it
// is not one.
func (d *DeadLetter) decodeValue(value []byte) {
	ev, err := decodeEvent(value)
	if err != nil {
		d.DecodeError = err.Error()
		d.RawValue = string(value)
		if len(value) == 0 {
			d.DecodeError = "the value is empty"
		}
		return
	}
	d.Event = ev
	if ev.CorrelationID == "" {
		ev.CorrelationID = d.Key
	}
	d.CorrelationID = ev.CorrelationID
}
