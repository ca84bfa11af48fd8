package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// FieldError is one field of an event's data that failed decoding or
// validation. Field is the path of JSON names ("items[0].sku"), Tag the
// failed rule (a validator tag such as "required" or "min", or "type" for a
// value of the wrong JSON type), Message a sentence for people.
type FieldError struct {
	Field   string `json:"field"`
	Tag     string `json:"tag"`
	Message string `json:"message"`
}

// InvalidError says why an event's data was refused before its handler ran:
// it could not be decoded into the handler's input type (StatusCode 400, or
// 422 when a field has the wrong JSON type) or it failed validation (422).
// Typed handlers return it wrapped with Permanent: the event goes to the
// dead-letter topic with kind "invalid" and Fields in the
// HeaderDLTInvalidFields header, and a request gets an error reply with it.
type InvalidError struct {
	Event      string
	StatusCode int
	Message    string
	Fields     []FieldError
	Err        error // the decode or validation error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("kafka-broker: invalid data for event %q: %s", e.Event, e.Message)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// RemoteError is an error reply: the service that handled a request answered
// with status "error" (or "cancelled") instead of a result. Call returns it;
// errors.As finds it. StatusCode follows HTTP: 400 for data that could not be
// decoded, 422 for data that failed validation (Fields say which), 500 for a
// handler error, or what the handler chose with ErrorReply.
//
// A typed handler returns one, made with ErrorReply, to answer a request
// with an error of its choosing; the requester gets the same status code,
// message and fields.
type RemoteError struct {
	Event         string // the request's event
	CorrelationID string
	Status        string // the reply's status: "error" or "cancelled"
	StatusCode    int
	Message       string
	Fields        []FieldError
	Payload       json.RawMessage // the request's data, as the responder echoed it
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kafka-broker: %s reply", e.Status)
	if e.Event != "" {
		fmt.Fprintf(&b, " to %q", e.Event)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (%d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// ErrorReply returns an error that a typed handler (HandleEvent, Handle)
// returns to answer the request with an error reply of status code code
// (HTTP semantics: 404, 409, 422, ...) and the formatted message. The
// requester's Call returns it as a *RemoteError; the Gin and Echo adapters
// answer a 4xx with the same status, anything else with 502.
func ErrorReply(code int, format string, args ...any) *RemoteError {
	return &RemoteError{Status: StatusError, StatusCode: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorReplyData is the data of an error reply, the shape the Python
// package's EventObject.as_reply writes (message, status_code, payload) plus
// the fields that failed validation.
type ErrorReplyData struct {
	Message    string          `json:"message"`
	StatusCode int             `json:"status_code"`
	Payload    json.RawMessage `json:"payload"`
	Fields     []FieldError    `json:"fields,omitempty"`
}

// ReplyError answers req with an error reply: status "error" and data
// {"message", "status_code", "payload": req's data, "fields"}, which Call
// returns as a *RemoteError and a Python service reads like the package's
// own error replies. The status code and fields come from err when it is an
// *InvalidError or a *RemoteError (see ErrorReply), else 500 with err's text.
// The reply goes where Reply would send it.
func (m *Manager) ReplyError(ctx context.Context, req *EventObject, err error) error {
	if req == nil {
		return errors.New("kafka-broker: error reply to a nil request")
	}
	if err == nil {
		return fmt.Errorf("kafka-broker: error reply to %s: nil error", req.CorrelationID)
	}
	return m.reply(ctx, req, errorReplyData(req, err), StatusError)
}

func errorReplyData(req *EventObject, err error) ErrorReplyData {
	d := ErrorReplyData{StatusCode: http.StatusInternalServerError, Message: err.Error(), Payload: req.Data}
	if len(d.Payload) == 0 {
		d.Payload = emptyObject
	}
	var inv *InvalidError
	var re *RemoteError
	switch {
	case errors.As(err, &inv):
		d.StatusCode, d.Message, d.Fields = inv.StatusCode, inv.Message, inv.Fields
	case errors.As(err, &re):
		d.Message, d.Fields = re.Message, re.Fields
		if re.StatusCode != 0 {
			d.StatusCode = re.StatusCode
		}
	}
	return d
}

// RemoteError returns the error an error reply carries, or nil when e is not
// one (its status is neither "error" nor "cancelled"). Data that is not the
// ErrorReplyData shape still makes a *RemoteError, with what could be read.
func (e *EventObject) RemoteError() *RemoteError {
	if e == nil || (e.Status != StatusError && e.Status != statusCancelled) {
		return nil
	}
	re := &RemoteError{Event: e.Event, CorrelationID: e.CorrelationID, Status: e.Status}
	var d struct {
		Message    json.RawMessage `json:"message"`
		StatusCode json.Number     `json:"status_code"`
		Payload    json.RawMessage `json:"payload"`
		Fields     []FieldError    `json:"fields"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		re.Message = string(e.Data)
		return re
	}
	if err := json.Unmarshal(d.Message, &re.Message); err != nil && len(d.Message) > 0 {
		re.Message = string(d.Message) // a Python service may put any JSON there
	}
	if n, err := d.StatusCode.Int64(); err == nil {
		re.StatusCode = int(n)
	}
	re.Payload, re.Fields = d.Payload, d.Fields
	return re
}

// statusCancelled is the Python package's status of a cancelled event.
const statusCancelled = "cancelled"

// Dead-letter kind and header of events whose data was invalid.
const (
	// DeadLetterInvalid is the HeaderDLTErrorKind of an event a typed handler
	// refused (see InvalidError).
	DeadLetterInvalid = "invalid"
	// HeaderDLTInvalidFields carries the InvalidError's fields as a JSON array
	// of {"field", "tag", "message"}.
	HeaderDLTInvalidFields = "kafka_dlt-invalid-fields"
)

// failureHeaders are the dead-letter headers a failure adds to the usual ones.
func failureHeaders(err error) []kafka.Header {
	var inv *InvalidError
	if !errors.As(err, &inv) {
		return nil
	}
	fields := inv.Fields
	if fields == nil {
		fields = []FieldError{}
	}
	b, jerr := json.Marshal(fields)
	if jerr != nil {
		return nil
	}
	return []kafka.Header{{Key: HeaderDLTInvalidFields, Value: b}}
}
