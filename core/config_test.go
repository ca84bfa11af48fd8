package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   core.Config
		field string
	}{
		{"no servers", core.Config{Location: "a"}, "BootstrapServers"},
		{"no location", core.Config{BootstrapServers: "x:1"}, "Location"},
		{"bad location", core.Config{BootstrapServers: "x:1", Location: "a b"}, "Location"},
		{"bad reply topic", core.Config{BootstrapServers: "x:1", Location: "a", ReplyTopic: "r/1"}, "ReplyTopic"},
		{"negative timeout", core.Config{BootstrapServers: "x:1", Location: "a", RequestTimeout: -1}, "RequestTimeout"},
		{"negative workers", core.Config{BootstrapServers: "x:1", Location: "a", Workers: -2}, "Workers"},
		{"bad allow-list", core.Config{BootstrapServers: "x:1", Location: "a", ReplyTopicAllowList: []string{""}}, "ReplyTopicAllowList"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := core.NewManager(tt.cfg)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want a ConfigError naming %s", err, tt.field)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
	t.Setenv("KAFKA_LOCATION", "orders")
	t.Setenv("KAFKA_GROUP_ID", "orders-g")
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "7s")
	t.Setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
	t.Setenv("KAFKA_PROP_SSL_CA_LOCATION", "/etc/ca.pem")
	cfg, err := core.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BootstrapServers != "127.0.0.1:9092" || cfg.Location != "orders" || cfg.GroupID != "orders-g" ||
		cfg.RequestTimeout != 7*time.Second || cfg.Kafka["security.protocol"] != "SASL_SSL" ||
		cfg.Kafka["ssl.ca.location"] != "/etc/ca.pem" {
		t.Fatalf("cfg = %+v", cfg)
	}
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "soon")
	if _, err := core.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "KAFKA_REQUEST_TIMEOUT") {
		t.Fatalf("bad duration: %v", err)
	}
	t.Setenv("KAFKA_REQUEST_TIMEOUT", "")
	t.Setenv("KAFKA_LOCATION", "")
	if _, err := core.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "KAFKA_LOCATION") {
		t.Fatalf("missing location: %v", err)
	}
}
