package startup_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/startup"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// TestConsumer checks the three ends of a start: ready, out of time with
// the brokers unreachable, out of time with the brokers answering.
func TestConsumer(t *testing.T) {
	t.Parallel()
	dead := kafkatest.ClosedAddr(t)
	tests := []struct {
		name      string
		cfg       core.Config
		timeout   time.Duration
		reachable bool
		want      []string // in the error; none: the start succeeds
	}{
		{"ready", kafkatest.Config(t, "ok"), time.Minute, true, nil},
		{"unreachable", core.Config{BootstrapServers: dead, Location: kafkatest.Name(t, "down")}, time.Second, false,
			[]string{"no Kafka broker answered at " + dead + " within 1s", "KAFKA_BOOTSTRAP_SERVERS"}},
		// The brokers answer, but the reply topic never appears.
		{"stuck", core.Config{BootstrapServers: kafkatest.Bootstrap(t), Location: kafkatest.Name(t, "stuck"), DisableTopicCreation: true},
			time.Second, true, []string{"answer, but the consumer did not start within 1s", "(the knob)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := kafkatest.NewManager(t, tt.cfg)
			err := startup.Consumer(context.Background(), m, tt.timeout, "the knob")
			if tt.want == nil {
				if err != nil || !m.Ready() {
					t.Fatalf("Consumer: %v (ready %v)", err, m.Ready())
				}
				return
			}
			var se *startup.Error
			if !errors.As(err, &se) || se.Reachable != tt.reachable || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Consumer: %v, want a *startup.Error (reachable %v) wrapping the deadline", err, tt.reachable)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestConsumerStopped checks that a start ended by its caller's ctx is
// returned as InitConsumer gave it, without advice.
func TestConsumerStopped(t *testing.T) {
	t.Parallel()
	m := kafkatest.NewManager(t, core.Config{BootstrapServers: kafkatest.ClosedAddr(t), Location: kafkatest.Name(t, "stop")})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := startup.Consumer(ctx, m, time.Minute, "the knob")
	var se *startup.Error
	if err == nil || errors.As(err, &se) {
		t.Fatalf("Consumer: %v, want InitConsumer's own error", err)
	}
}
