package httpinteg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kafka-broker/kafka-broker-go/core"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"reply timeout", fmt.Errorf("request x: %w", core.ErrReplyTimeout), 504, CodeReplyTimeout},
		{"produce deadline", fmt.Errorf("produce: %w", context.DeadlineExceeded), 504, CodeTimeout},
		{"closed", fmt.Errorf("request x: %w", core.ErrClosed), 503, CodeClosed},
		{"not started", core.ErrNotStarted, 503, CodeNotReady},
		{"too many pending", fmt.Errorf("request: %w", core.ErrTooManyPending), 503, CodeOverloaded},
		{"canceled", fmt.Errorf("request: %w", context.Canceled), 503, CodeCanceled},
		{"no manager", ErrNoManager, 500, CodeNoManager},
		{"invalid body", ErrInvalidBody, 400, CodeBadRequest},
		{"body too large", &http.MaxBytesError{Limit: 1}, 413, CodeTooLarge},
		{"other", errors.New("kafka: broker transport failure"), 502, CodeBrokerError},
		{"reply topic refused", core.ErrReplyTopicNotAllowed, 502, CodeBrokerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := Classify(tt.err)
			if status != tt.status || body.Error != tt.code || body.Message == "" {
				t.Errorf("Classify = %d %+v, want %d %s", status, body, tt.status, tt.code)
			}
			if strings.Contains(body.Message, tt.err.Error()) && tt.code != CodeBadRequest {
				t.Errorf("message %q leaks the error text", body.Message)
			}
		})
	}
}

func TestBadRequest(t *testing.T) {
	t.Parallel()
	if status, body := BadRequest(errors.New("name is required")); status != 400 || body.Message != "name is required" {
		t.Errorf("BadRequest = %d %+v", status, body)
	}
	if status, _ := BadRequest(&http.MaxBytesError{Limit: 1}); status != 413 {
		t.Errorf("BadRequest(MaxBytesError) = %d, want 413", status)
	}
}

func TestClassifyRemote(t *testing.T) {
	t.Parallel()
	fields := []core.FieldError{{Field: "n", Tag: "required", Message: "n is a required field"}}
	tests := []struct {
		name    string
		re      *core.RemoteError
		status  int
		code    string
		message string
		fields  int
	}{
		{"validation", &core.RemoteError{StatusCode: 422, Message: "n is a required field", Fields: fields}, 422, CodeInvalid, "n is a required field", 1},
		{"undecodable", &core.RemoteError{StatusCode: 400, Message: "data must be an object"}, 400, CodeInvalid, "data must be an object", 0},
		{"not found", &core.RemoteError{StatusCode: 404, Message: "no such order"}, 404, CodeRejected, "no such order", 0},
		{"handler failure", &core.RemoteError{StatusCode: 500, Message: "database password wrong"}, 502, CodeRemoteError, "the service answered with an error", 0},
		{"no status code", &core.RemoteError{Message: "boom"}, 502, CodeRemoteError, "the service answered with an error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.re.CorrelationID = "c1"
			status, body := Classify(fmt.Errorf("call: %w", tt.re))
			if status != tt.status || body.Error != tt.code || body.Message != tt.message || len(body.Fields) != tt.fields || body.CorrelationID != "c1" {
				t.Errorf("Classify = %d %+v, want %d %s %q with %d fields", status, body, tt.status, tt.code, tt.message, tt.fields)
			}
		})
	}
	// Response answers an error reply the same way.
	rep := &core.EventObject{CorrelationID: "c2", Status: core.StatusError,
		Data: json.RawMessage(`{"message":"n is a required field","status_code":422,"payload":{},"fields":[{"field":"n","tag":"required","message":"n is a required field"}]}`)}
	status, body, _ := Response(rep)
	want := `{"error":"invalid","message":"n is a required field","correlation_id":"c2","fields":[{"field":"n","tag":"required","message":"n is a required field"}]}`
	if status != 422 || !jsonEqual(t, body, []byte(want)) {
		t.Errorf("Response(error reply) = %d %s, want 422 %s", status, body, want)
	}
}

func TestStatusCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{core.ErrReplyTimeout, http.StatusGatewayTimeout},
		{core.ErrClosed, http.StatusServiceUnavailable},
		{core.ErrNotStarted, http.StatusServiceUnavailable},
		{context.Canceled, http.StatusServiceUnavailable},
		{core.ErrReplyTopicNotAllowed, http.StatusBadGateway},
		{&core.RemoteError{StatusCode: 404}, http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
