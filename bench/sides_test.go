package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// testEnv is the bench's env on the test broker (KAFKA_BOOTSTRAP_SERVERS,
// or the embedded one in this process).
func testEnv(t *testing.T) (context.Context, *env) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", kafkatest.Bootstrap(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e, err := newEnv(ctx, map[string]any{}, testing.Verbose(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return ctx, e
}

// Every side's requester gets answers from every side's responder: they
// speak one wire format, which scenario h) relies on.
func TestEveryRequesterGetsEveryResponderAnswer(t *testing.T) {
	ctx, e := testEnv(t)
	s, err := setupRR(ctx, e, allSides...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close(e)
	for _, req := range allSides {
		for _, resp := range allSides {
			call := s.call(req, resp)
			if l := drive(ctx, 4, 200*time.Millisecond, call); l.errors > 0 || l.done == 0 {
				t.Errorf("%s requester -> %s responder: %d replies, %d errors, first: %v", req, resp, l.done, l.errors, l.firstErr)
			}
		}
	}
}

// The async produce scenario runs every side (the library through
// ProduceAsync, or its stand-in) with every event acknowledged, and counts
// the broker's CPU (found by the port it listens on).
func TestAsyncProduceEverySide(t *testing.T) {
	ctx, e := testEnv(t)
	o := &options{rounds: 1, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond, asyncProducers: 1, eventSize: 1024}
	ms, err := runProduceAsync(ctx, e, o)
	if err != nil {
		t.Fatal(err)
	}
	rate := ms[0]
	if rate.Name != "events/s" || len(rate.Lib) != 1 || len(rate.Raw) != 1 || len(rate.Franz) != 1 ||
		rate.Lib[0] <= 0 || rate.Raw[0] <= 0 || rate.Franz[0] <= 0 || strings.Contains(rate.Note, "failed") {
		t.Errorf("async produce: %+v", rate)
	}
	// The embedded broker runs in this process, which listens on its port;
	// an external one may be on another machine.
	if kafkatest.External() && e.cpu.brokerPID == 0 {
		t.Logf("broker CPU not measured: %v", e.cpu.brokerErr)
		return
	}
	if e.cpu.brokerPID == 0 || ms[1].Name != "broker CPU per event" || len(ms[1].Franz) != 1 {
		t.Errorf("broker CPU not measured (pid %d, %v): %+v", e.cpu.brokerPID, e.cpu.brokerErr, ms[1])
	}
}

// Consume -> route -> commit reads every event on every side.
func TestConsumeEverySide(t *testing.T) {
	ctx, e := testEnv(t)
	o := &options{rounds: 1, consumeEvents: 2000, consumeLimit: time.Minute, rawConsume: "inline"}
	ms, err := runConsume(ctx, e, o)
	if err != nil {
		t.Fatal(err)
	}
	rate := ms[0]
	if len(rate.Lib) != 1 || len(rate.Raw) != 1 || len(rate.Franz) != 1 || rate.Note != "" ||
		rate.Lib[0] <= 0 || rate.Raw[0] <= 0 || rate.Franz[0] <= 0 {
		t.Errorf("consume: %+v", rate)
	}
}
