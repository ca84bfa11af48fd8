package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// librdkafka's resumable transactional calls (InitTransactions,
// CommitTransaction, AbortTransaction) run in steps on its main thread, and
// the caller waits for each step's result up to the call's deadline. A step
// not awaited long enough (a call in the last millisecond of a deadline is
// made with no wait at all) still posts its result later, and the next call
// takes that result for a step of its own: a commit then reports success
// while the brokers have not confirmed it, or fails with "Operation not
// valid in state CommittingTransaction", and librdkafka aborts the process
// on its next state change ("Invalid transaction state transition"; make
// test-kafka-secure did, TestCommitInDoubtIsResumed shows it). So such a
// call is made only with txnCallFloor or more to go, never in a tight loop,
// and never with a deadline cut into slices.

// txnCallFloor is the least time left that a transactional call is made with.
const txnCallFloor = 250 * time.Millisecond

// txnRetryPause separates two calls after a retriable error.
const txnRetryPause = 50 * time.Millisecond

// errTxnNoTime: a transactional call was not made, too little of its
// deadline being left; nothing changed, and it may be made again later.
var errTxnNoTime = errors.New("too little time left for a transactional call")

// txnTimeLeft is errTxnNoTime when ctx has less than txnCallFloor to go.
func txnTimeLeft(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < txnCallFloor {
			return fmt.Errorf("%w (%s to go, less than %s)", errTxnNoTime, left.Round(time.Millisecond), txnCallFloor)
		}
	}
	return nil
}

// untilDecided calls a resumable transactional API with ctx's whole
// deadline until it returns anything but a retriable error, or too little
// of ctx is left for another call: then it returns the last retriable
// error, or errTxnNoTime (or ctx's error) when it made no call at all.
func untilDecided(ctx context.Context, call func(context.Context) error) error {
	var last error
	for {
		if err := txnTimeLeft(ctx); err != nil {
			if last != nil {
				return last
			}
			return err
		}
		err := call(ctx)
		if err == nil || !retriable(err) {
			return err
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(txnRetryPause):
		}
	}
}

// retriable: err says to call again (kafka.Error's IsRetriable).
func retriable(err error) bool {
	var r interface{ IsRetriable() bool }
	return errors.As(err, &r) && r.IsRetriable()
}
