package core_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

func TestKafkaPropsFromEnv(t *testing.T) {
	t.Parallel()
	got := core.KafkaPropsFromEnv([]string{
		"KAFKA_PROP_SASL_USERNAME=generic", // wins over KAFKA_SASL_USERNAME, wherever it stands
		"KAFKA_SECURITY_PROTOCOL=SASL_SSL",
		"KAFKA_SASL_MECHANISM=PLAIN",
		"KAFKA_SASL_USERNAME=u",
		"KAFKA_SASL_PASSWORD=p=q", // values may hold '='
		"KAFKA_PROP_SSL_CA_LOCATION=/ca.pem",
		"KAFKA_PROP_LINGER_MS=",
		"KAFKA_PROP_=ignored",
		"KAFKA_BOOTSTRAP_SERVERS=b:9092",
		"PATH=/bin",
	})
	want := map[string]any{
		"security.protocol": "SASL_SSL",
		"sasl.mechanism":    "PLAIN",
		"sasl.username":     "generic",
		"sasl.password":     "p=q",
		"ssl.ca.location":   "/ca.pem",
		"linger.ms":         "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	for name, prop := range map[string]string{"KAFKA_SASL_PASSWORD": "sasl.password", "KAFKA_PROP_FETCH_WAIT_MAX_MS": "fetch.wait.max.ms"} {
		if p, ok := core.KafkaEnvProp(name); !ok || p != prop {
			t.Errorf("KafkaEnvProp(%s) = %q, %v; want %q", name, p, ok, prop)
		}
	}
	for _, name := range []string{"KAFKA_PROP_", "KAFKA_LOCATION", "HOME"} {
		if p, ok := core.KafkaEnvProp(name); ok {
			t.Errorf("KafkaEnvProp(%s) = %q, want none", name, p)
		}
	}
}

func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, value string
		kind             string // of the *MalformedError, or "" for an event
		id               string
	}{
		{"event", "k", `{"correlation_id":"c1","event":"a.b","audit_log":[{"location":"x","time_sent":1}]}`, "", "c1"},
		{"id from the key", "k2", `{"event":"a.b"}`, "", "k2"},
		{"not JSON", "", "nope", core.MalformedNotJSON, ""},
		{"not an object", "", "[1]", core.MalformedNotObject, ""},
		{"no event name", "", `{"data":{}}`, core.MalformedEmptyEvent, ""},
		{"field of the wrong type", "", `{"event":1}`, core.MalformedFieldType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := core.DecodeRecord(&kafka.Message{Key: []byte(tt.key), Value: []byte(tt.value)})
			var me *core.MalformedError
			if tt.kind != "" {
				if !errors.As(err, &me) || me.Kind != tt.kind {
					t.Fatalf("DecodeRecord = %v, want a *MalformedError of kind %s", err, tt.kind)
				}
				return
			}
			if err != nil || ev.CorrelationID != tt.id {
				t.Fatalf("DecodeRecord = %+v, %v; want correlation ID %s", ev, err, tt.id)
			}
			for _, a := range ev.AuditLog {
				if a.TimeReceived != nil {
					t.Errorf("time_received set on %+v: DecodeRecord does not receive", a)
				}
			}
		})
	}
}
