package core

import (
	"context"
	"errors"
	"fmt"
)

// A transactional call of librdkafka's (SendOffsetsToTransaction, and the
// resumable commit, abort and init) runs on a goroutine of its own, one at
// a time: librdkafka sees a deadline, never a cancellation (and waits for
// SendOffsetsToTransaction without any bound while the coordinator is
// unreachable), but a checkpoint, and Close, end with their ctx. A step
// that outlives its caller's ctx is awaited by the next call, whose outcome
// it is, and by close, which releases the producer once it returned.

type stepKind int

const (
	stepOffsets stepKind = iota + 1
	stepCommit
	stepAbort
	stepInit
)

func (k stepKind) String() string {
	switch k {
	case stepOffsets:
		return "SendOffsetsToTransaction"
	case stepCommit:
		return "CommitTransaction"
	case stepAbort:
		return "AbortTransaction"
	default:
		return "InitTransactions"
	}
}

// txnStep is one transactional call running, or done.
type txnStep struct {
	kind stepKind
	done chan struct{}
	err  error
	// ctxEnded: its ctx had ended when it returned; a commit's error then
	// leaves its outcome unknown.
	ctxEnded bool
}

// errStepRunning: librdkafka was still in the call when its caller's ctx
// ended; the next call waits for it again.
var errStepRunning = errors.New("still running in librdkafka")

// runStep starts call on a goroutine of its own and makes it the
// transactor's step.
func (t *transactor) runStep(ctx context.Context, kind stepKind, call func(context.Context) error) {
	s := &txnStep{kind: kind, done: make(chan struct{})}
	go func() { // owned by the librdkafka call, awaited by the next step and by close
		defer close(s.done)
		s.err = call(ctx)
		s.ctxEnded = ctx.Err() != nil
	}()
	t.step = s
}

// run starts call as the transactor's step and awaits it until ctx ends.
func (t *transactor) run(ctx context.Context, kind stepKind, call func(context.Context) error) (*txnStep, error) {
	t.runStep(ctx, kind, call)
	return t.await(ctx)
}

// await waits until ctx ends for the transactor's step, if any: it returns
// the step and its error once it returned (and forgets it), or
// errStepRunning while it runs on.
func (t *transactor) await(ctx context.Context) (*txnStep, error) {
	s := t.step
	if s == nil {
		return nil, nil
	}
	select {
	case <-s.done: // done already: its outcome, even when ctx ended too
	default:
		select {
		case <-s.done:
		case <-ctx.Done():
			return s, fmt.Errorf("%s %w: %w", s.kind, errStepRunning, context.Cause(ctx))
		}
	}
	t.step = nil
	return s, s.err
}

// resumable calls a resumable transactional API until it decides
// (untilDecided), as a step.
func resumable(call func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error { return untilDecided(ctx, call) }
}

// inDoubt: a commit step's err leaves its outcome unknown; the next Commit
// resumes it.
func inDoubt(s *txnStep, err error) bool {
	return errors.Is(err, errStepRunning) || retriable(err) || errors.Is(err, errTxnNoTime) || (s != nil && s.ctxEnded)
}
