package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
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
	if maxBytes > 0 && len(msg.Value) > maxBytes {
		return nil, &MalformedError{Kind: MalformedTooLarge, Err: errors.New("record value is larger than MaxRecordBytes")}
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

// decodePartitionHeader reads kafka_replyPartition: Spring Kafka writes a
// 4-byte big-endian int; decimal text is accepted too.
func decodePartitionHeader(b []byte) int32 {
	if len(b) == 4 {
		return int32(binary.BigEndian.Uint32(b))
	}
	return parsePartition(b)
}
