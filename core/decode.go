package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// decodeRecord turns a consumed record into an EventObject, or explains with
// a *MalformedError why it cannot.
func decodeRecord(msg *kafka.Message, maxBytes int) (*EventObject, error) {
	return decodeRecordAt(msg, maxBytes, time.Now())
}

// decodeRecordAt is decodeRecord for a record received at received: its last
// audit entry's time_received, when unset, says so.
func decodeRecordAt(msg *kafka.Message, maxBytes int, received time.Time) (*EventObject, error) {
	if size := recordSize(msg); maxBytes > 0 && size > maxBytes {
		return nil, &MalformedError{Kind: MalformedTooLarge,
			Err: fmt.Errorf("record of %d bytes (key, value and headers) is larger than MaxRecordBytes (%d)", size, maxBytes)}
	}
	ev, err := decodeEvent(msg.Value)
	if err != nil {
		return nil, err
	}
	meta := &recordMeta{replyPartition: -1}
	if msg.TopicPartition.Topic != nil {
		meta.topic = *msg.TopicPartition.Topic
	}
	meta.partition = msg.TopicPartition.Partition
	meta.offset = int64(msg.TopicPartition.Offset)
	for _, h := range msg.Headers {
		switch h.Key {
		case HeaderReplyTopic:
			meta.replyTopic = string(h.Value)
		case HeaderReplyPartition:
			meta.replyPartition = decodePartitionHeader(h.Value)
		}
	}
	if ev.CorrelationID == "" && len(msg.Key) > 0 {
		ev.CorrelationID = string(msg.Key)
	}
	ev.meta = meta
	stampReceived(ev, received)
	return ev, nil
}

// decodeEvent parses a record value. The happy path scans it once;
// json.Valid only runs to classify a failure.
func decodeEvent(value []byte) (*EventObject, error) {
	trimmed := bytes.TrimLeft(value, " \t\r\n")
	ev := new(EventObject)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := ev.UnmarshalJSON(value); err == nil {
			if ev.Event == "" {
				return nil, &MalformedError{Kind: MalformedEmptyEvent, Err: errors.New("event name is empty")}
			}
			return ev, nil
		} else if json.Valid(value) {
			return nil, &MalformedError{Kind: MalformedFieldType, Err: err}
		}
	}
	if !json.Valid(value) {
		return nil, &MalformedError{Kind: MalformedNotJSON, Err: errors.New("record value is not valid JSON")}
	}
	return nil, &MalformedError{Kind: MalformedNotObject, Err: errors.New("record value is JSON but not an object")}
}

// recordSize is what a record weighs: its key, value, and every header's key
// and value.
func recordSize(msg *kafka.Message) int {
	n := len(msg.Key) + len(msg.Value)
	for _, h := range msg.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// decodePartitionHeader reads kafka_replyPartition, -1 when it names no
// partition. Decimal text ("2", "0002") is read as text first; only a value
// that is not decimal text is read as the 4-byte big-endian int Spring Kafka
// writes.
func decodePartitionHeader(b []byte) int32 {
	if n, ok := decimalPartition(b); ok {
		return n
	}
	if len(b) == 4 {
		if n := int32(binary.BigEndian.Uint32(b)); n >= 0 {
			return n
		}
	}
	return -1
}

// decimalPartition parses b when it is nothing but ASCII digits that fit an int32.
func decimalPartition(b []byte) (int32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt32 {
		return 0, false
	}
	return int32(n), true
}
