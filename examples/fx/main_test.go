package main

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv/devenvtest"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// TestUnreachableBroker runs the example against a broker that cannot be
// reached: the API serves /livez and /readyz (503) while the consumer starts
// in the background, and the example stops within its start timeout with an
// error, the reason logged with the broker's address and what to set.
func TestUnreachableBroker(t *testing.T) {
	dead := kafkatest.ClosedAddr(t)
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", dead)
	t.Setenv("KAFKA_LOCATION", kafkatest.Name(t, "fx"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs kafkatest.Buffer
	s := devenv.Setup{Brokers: dead, Listener: ln, StartTimeout: devenvtest.StartTimeout,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- run(s) }()
	url := "http://" + ln.Addr().String()
	devenvtest.Probe(t, url+"/livez", http.StatusOK)
	devenvtest.Probe(t, url+"/readyz", http.StatusServiceUnavailable)
	select {
	case err = <-done:
	case <-time.After(devenvtest.StartTimeout + time.Minute):
		t.Fatal("the example did not give up on the unreachable broker")
	}
	t.Logf("ended after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Errorf("run: %v, want the consumer's failed start", err)
	}
	for _, want := range []string{"fxmodule: start consumer", dead, "KAFKA_BOOTSTRAP_SERVERS"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
}
