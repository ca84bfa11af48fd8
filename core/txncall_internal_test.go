package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// untilDecided makes a transactional call only with txnCallFloor or more to
// go (librdkafka's steps not awaited long enough leave results a later call
// takes for its own): near the deadline it returns the last retriable error,
// or errTxnNoTime when it made no call; it pauses between retries.
func TestUntilDecidedNeverCallsNearTheDeadline(t *testing.T) {
	var timedOut error = retriableError("Timed out waiting for operation to finish, retry call to resume")
	t.Run("no call with too little left", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), txnCallFloor/2)
		defer cancel()
		calls := 0
		err := untilDecided(ctx, func(context.Context) error { calls++; return nil })
		if calls != 0 || !errors.Is(err, errTxnNoTime) || !inDoubt(nil, err) {
			t.Fatalf("%d calls, %v; want none and errTxnNoTime", calls, err)
		}
	})
	t.Run("each call with enough left", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*txnCallFloor)
		defer cancel()
		var calls []time.Duration
		err := untilDecided(ctx, func(ctx context.Context) error {
			dl, _ := ctx.Deadline()
			calls = append(calls, time.Until(dl))
			return timedOut
		})
		if !errors.Is(err, timedOut) {
			t.Fatalf("untilDecided: %v; want the last retriable error", err)
		}
		if len(calls) < 2 {
			t.Fatalf("%d calls; want retries while time is left", len(calls))
		}
		for i, left := range calls {
			if left < txnCallFloor {
				t.Fatalf("call %d made with %s to go, less than %s", i, left, txnCallFloor)
			}
		}
		// With no pause, thousands of calls would fit.
		if most := int(3*txnCallFloor/txnRetryPause) + 1; len(calls) > most {
			t.Fatalf("%d calls in %s; want a pause of %s between them (at most %d)", len(calls), 3*txnCallFloor, txnRetryPause, most)
		}
	})
	t.Run("a definite answer ends it", func(t *testing.T) {
		fenced := kafka.NewError(kafka.ErrFenced, "fenced", true)
		calls := 0
		err := untilDecided(context.Background(), func(context.Context) error { calls++; return fenced })
		if calls != 1 || !errors.Is(err, fenced) {
			t.Fatalf("%d calls, %v; want one call and its error", calls, err)
		}
	})
}

// retriableError is a retriable error as librdkafka's (kafka.NewError
// makes none).
type retriableError string

func (e retriableError) Error() string     { return string(e) }
func (e retriableError) IsRetriable() bool { return true }
