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

// ErrorResponse is the JSON body of an error response. The adapters export
// the same struct under their own name.
type ErrorResponse struct {
	Error         string            `json:"error"`
	Message       string            `json:"message"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Fields        []core.FieldError `json:"fields,omitempty"`
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
