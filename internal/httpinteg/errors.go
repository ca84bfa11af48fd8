package httpinteg

import (
	"context"
	"errors"
	"net/http"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// ErrNoManager is returned when a request's context carries no Manager: the
// adapter's Middleware did not run for the route.
var ErrNoManager = errors.New("kafka-broker: no manager in the request context (add the adapter's Middleware)")

// ErrInvalidBody is returned when a request body is not valid JSON.
var ErrInvalidBody = errors.New("request body is not valid JSON")

// ErrorResponse is the JSON body of the error responses the helpers write
// (gininteg.ErrorResponse and echointeg.ErrorResponse are aliases of it).
// Error is a code ("reply_timeout", "closed", ...; see Classify), Message a
// fixed text for people.
type ErrorResponse struct {
	Error         string            `json:"error"`
	Message       string            `json:"message"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Fields        []core.FieldError `json:"fields,omitempty"` // error replies: the fields that failed validation
}

// Failure is a helper's request that failed, ready for an adapter to answer
// in its framework's way: the status, the JSON body, and the cause. Body's
// CorrelationID, when set, also goes in the HTTPHeaderCorrelationID header.
type Failure struct {
	Status int
	Body   ErrorResponse
	Err    error
}

// failure classifies err; correlationID, when the body has none, is the
// event's that err is about.
func failure(err error, correlationID string) *Failure {
	status, body := Classify(err)
	if body.CorrelationID == "" {
		body.CorrelationID = correlationID
	}
	return &Failure{Status: status, Body: body, Err: err}
}

// StatusCode is the HTTP status a helper answers err with: 504 for a reply
// timeout, 503 when the manager is closed, not ready or overloaded or the
// request was canceled, 502 for other broker errors, and an error reply's
// 4xx status.
func StatusCode(err error) int {
	status, _ := Classify(err)
	return status
}

// Error codes, the "error" member of an ErrorResponse.
const (
	CodeReplyTimeout = "reply_timeout"
	CodeTimeout      = "timeout"
	CodeClosed       = "closed"
	CodeNotReady     = "not_ready"
	CodeOverloaded   = "overloaded"
	CodeCanceled     = "canceled"
	CodeBrokerError  = "broker_error"
	CodeBadRequest   = "bad_request"
	CodeTooLarge     = "too_large"
	CodeNoManager    = "no_manager"
)

// Classify maps an error from a request helper to an HTTP status and an error
// body. Messages are fixed texts: error strings name brokers and topics, which
// clients need not see.
func Classify(err error) (int, ErrorResponse) {
	var tooLarge *http.MaxBytesError
	var remote *core.RemoteError
	switch {
	case errors.As(err, &remote):
		return ClassifyRemote(remote)
	case errors.Is(err, core.ErrReplyTimeout):
		return http.StatusGatewayTimeout, ErrorResponse{Error: CodeReplyTimeout, Message: "no reply before the deadline"}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, ErrorResponse{Error: CodeTimeout, Message: "the broker did not answer before the deadline"}
	case errors.Is(err, core.ErrClosed):
		return http.StatusServiceUnavailable, ErrorResponse{Error: CodeClosed, Message: "the service is shutting down"}
	case errors.Is(err, core.ErrNotStarted):
		return http.StatusServiceUnavailable, ErrorResponse{Error: CodeNotReady, Message: "the Kafka consumer is not ready"}
	case errors.Is(err, core.ErrTooManyPending):
		return http.StatusServiceUnavailable, ErrorResponse{Error: CodeOverloaded, Message: "too many requests await replies"}
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, ErrorResponse{Error: CodeCanceled, Message: "the request was canceled"}
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, ErrorResponse{Error: CodeTooLarge, Message: "request body too large"}
	case errors.Is(err, ErrInvalidBody):
		return http.StatusBadRequest, ErrorResponse{Error: CodeBadRequest, Message: ErrInvalidBody.Error()}
	case errors.Is(err, ErrNoManager):
		return http.StatusInternalServerError, ErrorResponse{Error: CodeNoManager, Message: "server misconfigured"}
	default:
		return http.StatusBadGateway, ErrorResponse{Error: CodeBrokerError, Message: "the broker request failed"}
	}
}

// BadRequest is the response for an error of the user's request-to-event
// mapping: its text is meant for the client.
func BadRequest(err error) (int, ErrorResponse) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || errors.Is(err, ErrInvalidBody) {
		return Classify(err)
	}
	return http.StatusBadRequest, ErrorResponse{Error: CodeBadRequest, Message: err.Error()}
}
