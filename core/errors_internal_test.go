package core

import (
	"errors"
	"testing"
)

// A message says "kafka-broker: " once, however deep the errors it wraps.
func TestErrorfSaysThePrefixOnce(t *testing.T) {
	err := errorf("kafka-broker: request %s: %w", "r1", errorf("kafka-broker: produce to %s: %w", "orders", ErrUnknownTopic))
	if got, want := err.Error(), "kafka-broker: request r1: produce to orders: topic does not exist"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatal("errors.Is does not see the wrapped error")
	}
	plain := errorf("kafka-broker: close: %w", errors.New("boom"))
	if got := plain.Error(); got != "kafka-broker: close: boom" {
		t.Fatalf("message %q", got)
	}
}
