package httpinteg

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

func TestResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   string
		status int
		body   string
	}{
		{"no status", `{"a":1}`, 200, `{"a":1}`},
		{"status", `{"a":1,"http_status":201}`, 201, `{"a":1}`},
		{"only status", `{"http_status":404}`, 404, `{}`},
		{"text kept", `{"http_status":400,"error":"<n> & m"}`, 400, `{"error":"<n> & m"}`},
		{"no content", `{"http_status":204,"a":1}`, 204, ``},
		{"not modified", `{"http_status":304}`, 304, ``},
		{"status out of range", `{"http_status":99}`, 200, `{"http_status":99}`},
		{"status too high", `{"http_status":600}`, 200, `{"http_status":600}`},
		{"status not a number", `{"http_status":"201"}`, 200, `{"http_status":"201"}`},
		{"status not an integer", `{"http_status":201.5}`, 200, `{"http_status":201.5}`},
		{"nested status ignored", `{"x":{"http_status":500}}`, 200, `{"x":{"http_status":500}}`},
		{"array", `[1,2]`, 200, `[1,2]`},
		{"string", `"hi"`, 200, `"hi"`},
		{"empty", ``, 200, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := Response(&core.EventObject{Data: json.RawMessage(tt.data)})
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if tt.body == "" {
				if body != nil {
					t.Errorf("body %s, want none", body)
				}
				return
			}
			if !jsonEqual(t, body, []byte(tt.body)) {
				t.Errorf("body %s, want %s", body, tt.body)
			}
		})
	}
}

func TestResponseKeepsText(t *testing.T) {
	t.Parallel()
	_, body, _ := Response(&core.EventObject{Data: json.RawMessage(`{"http_status":400,"error":"<n> & m"}`)})
	if string(body) != `{"error":"<n> & m"}` {
		t.Errorf("body %s, want the text unescaped", body)
	}
}

func TestEventData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string
		body   string
		path   []Param
		want   string
		err    error
	}{
		{"body", "/x?q=1", `{"a":1}`, []Param{{"id", "7"}}, `{"a":1}`, nil},
		{"body with spaces", "/x", " \n[1] ", nil, `[1]`, nil},
		{"params", "/x?q=1&tag=a&tag=b&id=query", "", []Param{{"id", "7"}}, `{"q":"1","tag":["a","b"],"id":"7"}`, nil},
		{"blank body uses params", "/x?q=1", "  ", nil, `{"q":"1"}`, nil},
		{"nothing", "/x", "", nil, `{}`, nil},
		{"invalid body", "/x", `{"a":`, nil, "", ErrInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			if tt.body == "" {
				r.Body = http.NoBody
			}
			got, err := EventData(httptest.NewRecorder(), r, 0, tt.path)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.err == nil && !jsonEqual(t, got, []byte(tt.want)) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(`"`+strings.Repeat("x", 10)+`"`))
	var tooLarge *http.MaxBytesError
	if _, err := EventData(httptest.NewRecorder(), r, 5, nil); !errors.As(err, &tooLarge) {
		t.Errorf("large body: %v, want *http.MaxBytesError", err)
	}
}

func TestResponseToNoReply(t *testing.T) {
	t.Parallel()
	_, body, f := Response(nil)
	if f == nil || f.Status != http.StatusBadGateway || f.Body.Error != CodeBrokerError || f.Err == nil || body != nil {
		t.Errorf("Response(nil) = %s, %+v; want a 502 failure", body, f)
	}
}

// TestRequestWithoutManager checks the failures of a request whose context
// carries no Manager: 500 no_manager, with the event's correlation ID.
func TestRequestWithoutManager(t *testing.T) {
	t.Parallel()
	ev, _ := core.NewEventObject("x", nil)
	if _, f := Request(context.Background(), "t", ev, RequestConfig{}); f == nil || f.Status != http.StatusInternalServerError ||
		f.Body.Error != CodeNoManager || f.Body.CorrelationID != ev.CorrelationID || !errors.Is(f.Err, ErrNoManager) {
		t.Errorf("Request: %+v, want 500 no_manager with the correlation ID", f)
	}
	if _, id, f := Call[map[string]any](context.Background(), "t", "x", nil, RequestConfig{}); f == nil || id != "" ||
		f.Status != http.StatusInternalServerError {
		t.Errorf("Call: %q %+v, want 500 no_manager", id, f)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	run := NewRunConfig("x", []RunOption{WithGracePeriod(time.Second), WithInitTimeout(-1), nil, WithSignals()})
	if run.GracePeriod != time.Second || run.InitTimeout != DefaultInitTimeout || run.CloseTimeout != DefaultCloseTimeout ||
		len(run.Signals) != 0 || run.Name != "x" {
		t.Errorf("run config %+v", run)
	}
	h := NewHandlerConfig([]HandlerOption[int]{WithTimeout[int](time.Second), WithMaxBodyBytes[int](0), nil})
	if h.Timeout != time.Second || h.MaxBody != DefaultMaxBodyBytes || h.Data != nil {
		t.Errorf("handler config %+v", h)
	}
	if r := NewRequestConfig([]RequestOption[int]{WithTimeout[int](2 * time.Second)}); r.Timeout != 2*time.Second {
		t.Errorf("request config %+v", r)
	}
}
