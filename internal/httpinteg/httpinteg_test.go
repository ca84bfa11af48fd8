package httpinteg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kafka-broker/kafka-broker-go/core"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClassify(t *testing.T) {
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
	if status, body := BadRequest(errors.New("name is required")); status != 400 || body.Message != "name is required" {
		t.Errorf("BadRequest = %d %+v", status, body)
	}
	if status, _ := BadRequest(&http.MaxBytesError{Limit: 1}); status != 413 {
		t.Errorf("BadRequest(MaxBytesError) = %d, want 413", status)
	}
}

func TestResponse(t *testing.T) {
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
	_, body, _ := Response(&core.EventObject{Data: json.RawMessage(`{"http_status":400,"error":"<n> & m"}`)})
	if string(body) != `{"error":"<n> & m"}` {
		t.Errorf("body %s, want the text unescaped", body)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestEventData(t *testing.T) {
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

func TestRunChecks(t *testing.T) {
	ok := Check{"a", func(context.Context) error { return nil }}
	bad := Check{"b", func(context.Context) error { return errors.New("down") }}
	if status, rep := runChecks(context.Background(), []Check{ok}); status != 200 || rep.Status != StatusReady || rep.Checks["a"] != CheckOK {
		t.Errorf("all ok: %d %+v", status, rep)
	}
	if status, rep := runChecks(context.Background(), []Check{ok, bad}); status != 503 || rep.Status != StatusNotReady ||
		rep.Checks["a"] != CheckOK || rep.Checks["b"] != "down" {
		t.Errorf("one failing: %d %+v", status, rep)
	}
}

func TestTrackerAbandon(t *testing.T) {
	entered := make(chan struct{})
	tr := newTracker(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		tr.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		done <- rec.Code
	}()
	<-entered
	if n := tr.inFlight(); n != 1 {
		t.Fatalf("in flight %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a handler running: %v", err)
	}
	tr.abandon()
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Errorf("code %d", code)
	}
	if err := tr.wait(context.Background()); err != nil {
		t.Errorf("wait after the handler returned: %v", err)
	}
}

func TestClassifyRemote(t *testing.T) {
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
