package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
)

var (
	// ErrNoRoute is returned by EventRouter.ExecuteEvent when no bind matches
	// the event's routing key.
	ErrNoRoute = errors.New("kafka-broker: no route for event")

	// ErrClosed is returned by calls on a Manager that is closed or closing.
	ErrClosed = errors.New("kafka-broker: manager closed")

	// ErrReplyTimeout is returned by Request when no reply came before the
	// deadline. errors.Is(err, context.DeadlineExceeded) is also true for it.
	ErrReplyTimeout error = replyTimeoutError{}

	// ErrNotStarted is returned by Request when InitConsumer has not run, so no
	// reply could be received.
	ErrNotStarted = errors.New("kafka-broker: consumer not started (call InitConsumer)")

	// ErrTooManyPending is returned by Request when Config.MaxPendingRequests
	// requests already await replies.
	ErrTooManyPending = errors.New("kafka-broker: too many pending requests")

	// ErrReplyTopicNotAllowed is returned by Reply when the request names a reply
	// topic that the allow-list does not permit.
	ErrReplyTopicNotAllowed = errors.New("kafka-broker: reply topic not allowed")

	// ErrNoReplyAddress is returned by Reply when the request has neither a
	// reply-topic header nor an audit entry naming its sender.
	ErrNoReplyAddress = errors.New("kafka-broker: request carries no reply address")

	// ErrHandlerAbandoned is context.Cause of a handler's ctx once the
	// consumer stopped waiting for it: its partition was revoked, or (with
	// Transactional) its transaction aborted, and DrainTimeout passed, or
	// Close's ctx ended. The record is handled again (by the partition's
	// next owner, or after the rewind), so the handler should stop: its
	// Reply and Produce calls fail from then on, and its error dead-letters
	// nothing.
	ErrHandlerAbandoned = fetch.ErrAbandoned
)

type replyTimeoutError struct{}

func (replyTimeoutError) Error() string { return "kafka-broker: timed out waiting for reply" }

// Is makes errors.Is(ErrReplyTimeout, context.DeadlineExceeded) true.
func (replyTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, like net.Error.
func (replyTimeoutError) Timeout() bool { return true }

// PermanentError marks a handler error that must not be retried; the event goes
// to the dead-letter topic at once. Wrap with Permanent.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	var p *PermanentError
	if errors.As(err, &p) {
		return err
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// MalformedError says why a consumed record could not be decoded into an
// EventObject. Kind is one of the Malformed* constants.
type MalformedError struct {
	Kind string
	Err  error
}

// Kinds of malformed records.
const (
	MalformedNotJSON    = "not_json"
	MalformedNotObject  = "not_object"
	MalformedFieldType  = "field_type"
	MalformedTooLarge   = "too_large"
	MalformedEmptyEvent = "empty_event"
)

func (e *MalformedError) Error() string {
	return fmt.Sprintf("kafka-broker: malformed record (%s): %v", e.Kind, e.Err)
}
func (e *MalformedError) Unwrap() error { return e.Err }

// ConfigError names the configuration field that is invalid.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("kafka-broker: config: %s: %s", e.Field, e.Reason)
}

// PermanentIf returns a middleware that marks the handler errors for which
// isPermanent reports true with Permanent, so they skip the retries and go
// to the dead-letter topic at once (validation failures, say).
func PermanentIf(isPermanent func(error) bool) Middleware {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, ev *EventObject) error {
			err := next(ctx, ev)
			if err != nil && isPermanent(err) {
				return Permanent(err)
			}
			return err
		}
	}
}

// errorf is fmt.Errorf for the library's messages: when what it wraps
// already says "kafka-broker: ", the message says it once, at its start
// (errors.Is and errors.As see through it as through fmt.Errorf's).
func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	msg := err.Error()
	const prefix = "kafka-broker: "
	first := strings.Index(msg, prefix)
	if first < 0 || !strings.Contains(msg[first+len(prefix):], prefix) {
		return err
	}
	rest := strings.ReplaceAll(msg[first+len(prefix):], prefix, "")
	return &prefixedError{msg: msg[:first+len(prefix)] + rest, err: err}
}

// prefixedError is an error whose message errorf cleaned up.
type prefixedError struct {
	msg string
	err error
}

func (e *prefixedError) Error() string { return e.msg }
func (e *prefixedError) Unwrap() error { return e.err }
