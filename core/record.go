package core

import "github.com/confluentinc/confluent-kafka-go/v2/kafka"

// DecodeRecord reads an EventObject from a record with the checks the
// consumer makes: the value must be a JSON object with an event name, and the
// record key is the correlation ID when the envelope has none. A record that
// is not an event gets a *MalformedError saying why. Unlike the consumer it
// bounds no size and sets no time_received: it is for tools that look at
// records without receiving them, such as `kafka-broker tail`.
func DecodeRecord(msg *kafka.Message) (*EventObject, error) {
	ev, err := decodeEvent(msg.Value)
	if err != nil {
		return nil, err
	}
	if ev.CorrelationID == "" && len(msg.Key) > 0 {
		ev.CorrelationID = string(msg.Key)
	}
	return ev, nil
}
