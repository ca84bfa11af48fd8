package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// The hand-written sides (raw confluent-kafka-go and franz-go) write and read
// the library's wire format (so every side moves the same bytes) with plain
// structs and encoding/json, as hand-written code talking to the Python
// package would.
type rawEvent struct {
	CorrelationID string          `json:"correlation_id"`
	Status        string          `json:"status"`
	Event         string          `json:"event"`
	Data          json.RawMessage `json:"data"`
	AuditLog      []rawAudit      `json:"audit_log"`
}

type rawAudit struct {
	Data         json.RawMessage `json:"data"`
	Event        string          `json:"event"`
	Location     string          `json:"location"`
	TimeSent     int64           `json:"time_sent"`
	TimeReceived *int64          `json:"time_received"`
}

// stamp appends this hop's audit entry, as the library does on produce.
func (e *rawEvent) stamp(location string, now time.Time) {
	e.AuditLog = append(e.AuditLog, rawAudit{Data: e.Data, Event: e.Event, Location: location, TimeSent: now.Unix()})
}

// received sets time_received on the last hop, as the library does on consume.
func (e *rawEvent) received(now time.Time) {
	if n := len(e.AuditLog); n > 0 && e.AuditLog[n-1].TimeReceived == nil {
		t := now.Unix()
		e.AuditLog[n-1].TimeReceived = &t
	}
}

// encodeEvent is a new event from location in the wire format: a fresh
// correlation ID (also the record's key), status pending, this hop's audit
// entry.
func encodeEvent(location, event string, data json.RawMessage) (id string, value []byte, err error) {
	id = uuid.NewString()
	ev := rawEvent{CorrelationID: id, Status: core.StatusPending, Event: event, Data: data}
	ev.stamp(location, time.Now())
	value, err = json.Marshal(&ev)
	return id, value, err
}

// encodeReply is the reply from location to req: req's correlation ID, event
// and audit log, status completed, data, and this hop's audit entry.
func encodeReply(location string, req *rawEvent, data json.RawMessage) ([]byte, error) {
	rep := rawEvent{CorrelationID: req.CorrelationID, Status: core.StatusCompleted, Event: req.Event, Data: data, AuditLog: req.AuditLog}
	rep.stamp(location, time.Now())
	return json.Marshal(&rep)
}

// replyAddress is where a reply to req goes: the kafka_replyTopic header,
// else the sender's Location, as the library does.
func replyAddress(replyTopic []byte, req *rawEvent) string {
	if len(replyTopic) > 0 {
		return string(replyTopic)
	}
	if n := len(req.AuditLog); n > 0 {
		return req.AuditLog[n-1].Location
	}
	return ""
}

// checkEcho checks a reply of the echo responder.
func checkEcho(status string, data []byte) error {
	if status != core.StatusCompleted || len(data) != len(smallPayload) {
		return fmt.Errorf("unexpected reply: status %q, %d bytes of data", status, len(data))
	}
	return nil
}

func header(msg *kafka.Message, key string) []byte {
	for _, h := range msg.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Payloads: a typical small request body, and a 1 KiB one for the produce scenario.
var (
	smallPayload = json.RawMessage(`{"order_id":123456,"customer":"c-4711","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":99.5,"currency":"EUR"}`)
)

// payloadOfSize returns a JSON object of exactly n bytes (n >= 16).
func payloadOfSize(n int) json.RawMessage {
	const head, tail = `{"blob":"`, `"}`
	return json.RawMessage(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// The librdkafka properties the library sets on each of its clients
// (core/manager.go NewManager, core/consumer.go newGroupConsumer,
// core/replies.go newReplyConsumer). The raw baseline uses the same ones, and
// -kafka overrides apply to both sides alike.
func producerConfig(bootstrap string, extra map[string]any) *kafka.ConfigMap {
	return configMap(bootstrap, kafka.ConfigMap{
		"enable.idempotence":                    true,
		"acks":                                  "all",
		"linger.ms":                             0,
		"go.delivery.report.fields":             "none",
		"max.in.flight.requests.per.connection": 1, // see core/manager.go
	}, extra)
}

func groupConsumerConfig(bootstrap, group string, extra map[string]any) *kafka.ConfigMap {
	return configMap(bootstrap, kafka.ConfigMap{
		"group.id":                 group,
		"auto.offset.reset":        "earliest",
		"enable.auto.commit":       true,
		"enable.auto.offset.store": false,
		"auto.commit.interval.ms":  1000,
		"fetch.wait.max.ms":        100,
	}, extra)
}

func replyConsumerConfig(bootstrap, group string, extra map[string]any) *kafka.ConfigMap {
	return configMap(bootstrap, kafka.ConfigMap{
		"group.id":           group,
		"enable.auto.commit": false,
		"auto.offset.reset":  "latest",
		"fetch.wait.max.ms":  100,
	}, extra)
}

func configMap(bootstrap string, defaults kafka.ConfigMap, extra map[string]any) *kafka.ConfigMap {
	// log_level 4 keeps librdkafka's info lines off stderr; the library sends
	// them to its logger, which the bench discards below warnings.
	c := kafka.ConfigMap{"bootstrap.servers": bootstrap, "log_level": 4}
	maps.Copy(c, defaults)
	for k, v := range extra {
		c[k] = v
	}
	return &c
}

// libConfig is the library's Config for a bench service, with the same
// librdkafka overrides the raw side gets.
func (e *env) libConfig(location string) core.Config {
	return core.Config{
		BootstrapServers: e.bootstrap,
		Location:         location,
		Kafka:            maps.Clone(e.kafka),
	}
}
