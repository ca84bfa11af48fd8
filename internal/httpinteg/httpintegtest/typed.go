package httpintegtest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
)

// fieldsBody is an error response with the fields of an error reply.
type fieldsBody struct {
	Error         string            `json:"error"`
	Message       string            `json:"message"`
	CorrelationID string            `json:"correlation_id"`
	Fields        []core.FieldError `json:"fields"`
}

func fieldNames(fs []core.FieldError) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Field+":"+f.Tag)
	}
	return out
}

// TypedCalls checks Call and Handler against a typed handler: the decoded
// reply, and error replies mapped to 422 with the fields, the handler's 4xx,
// and 502 for its 5xx.
func TypedCalls(t *testing.T, a Adapter) {
	resp := StartResponder(t)
	m := NewManager(t, "api")
	url, _ := Serve(t, a, m, App{Topic: resp.Location}, RunParams{GracePeriod: time.Minute})
	c := Client(t)
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		want   string   // the body, for 200
		code   string   // the error code otherwise
		fields []string // "field:tag"
	}{
		{"call", "/call", `{"name":"ada","qty":2}`, 200, `{"name":"ada","qty":2,"total":6}`, "", nil},
		{"call invalid", "/call", `{"qty":20}`, 422, "", "invalid", []string{"name:required", "qty:max"}},
		{"call wrong type", "/call", `{"name":"ada","qty":"two"}`, 422, "", "invalid", []string{"qty:type"}},
		{"call rejected", "/call", `{"name":"taken","qty":1}`, 409, "", "rejected", nil},
		{"call failed", "/call", `{"name":"broken","qty":1}`, 502, "", "remote_error", nil},
		{"handler", "/order", `{"name":"ada","qty":1}`, 200, `{"name":"ada","qty":1,"total":3}`, "", nil},
		{"handler invalid", "/order", `{"name":"","qty":0}`, 422, "", "invalid", []string{"name:required", "qty:min"}},
		{"handler failed", "/order", `{"name":"broken","qty":1}`, 502, "", "remote_error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, b, err := do(context.Background(), c, http.MethodPost, url+tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Fatalf("status %d %s, want %d", status, b, tt.status)
			}
			if h.Get("X-Correlation-ID") == "" {
				t.Error("no X-Correlation-ID")
			}
			if tt.want != "" {
				if !JSONEqual(b, []byte(tt.want)) {
					t.Errorf("body %s, want %s", b, tt.want)
				}
				return
			}
			var e fieldsBody
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			if e.Error != tt.code || !slices.Equal(fieldNames(e.Fields), tt.fields) || e.CorrelationID != h.Get("X-Correlation-ID") {
				t.Errorf("body %s, want error %q with fields %v", b, tt.code, tt.fields)
			}
			if tt.status == 502 && strings.Contains(string(b), "database") {
				t.Errorf("a 5xx error reply leaks its message: %s", b)
			}
			if tt.status == 409 && e.Message != `name "taken" is taken` {
				t.Errorf("message %q, want the handler's", e.Message)
			}
		})
	}
}

// Docs checks the docs endpoints, mounted under /kafka: the document of
// the responder's router, the page and its assets, and "try it" with a valid
// request, an invalid one and requests the endpoint refuses; without
// WithTryIt the try endpoint does not exist.
func Docs(t *testing.T, a Adapter) {
	resp := StartResponder(t)
	m := NewManager(t, "api")
	svc := asyncapi.Service{Location: resp.Location, Router: resp.Router}
	info := asyncapi.WithInfo(asyncapi.Info{Title: "Responder", Version: "1.0.0"})
	url, _ := Serve(t, a, m, App{Topic: resp.Location, Docs: []asyncapi.Option{info, asyncapi.WithService(svc),
		asyncapi.WithTryIt(), asyncapi.WithTryTimeout(time.Second)}}, RunParams{GracePeriod: time.Minute})
	c := Client(t)
	t.Run("document", func(t *testing.T) { checkDocument(t, c, url) })
	t.Run("page", func(t *testing.T) { checkDocsPage(t, c, url) })
	t.Run("try", func(t *testing.T) { checkTry(t, c, url, m, resp) })

	// Without WithTryIt there is no try endpoint.
	m2 := NewManager(t, "api")
	url2, _ := Serve(t, a, m2, App{Topic: resp.Location, Docs: []asyncapi.Option{asyncapi.WithService(svc)}}, RunParams{GracePeriod: time.Minute})
	if status, _ := Do(t, c, http.MethodPost, url2+"/kafka/docs/try", `{"event":"test.order","data":{"name":"a","qty":1}}`); status != 404 && status != 405 {
		t.Errorf("POST /kafka/docs/try without WithTryIt: %d, want 404 or 405", status)
	}
	if status, b := Get(t, c, url2+"/kafka/docs"); status != 200 || !strings.Contains(string(b), `data-try="off"`) {
		t.Errorf("GET /kafka/docs without WithTryIt: %d %s", status, b)
	}
}

// checkDocument checks the document of the responder's router.
func checkDocument(t *testing.T, c *http.Client, url string) {
	status, h, b, err := do(context.Background(), c, http.MethodGet, url+"/kafka/asyncapi.json", "")
	if err != nil || status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /kafka/asyncapi.json: %d %s %v", status, h.Get("Content-Type"), err)
	}
	var doc asyncapi.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, op := range doc.Operations {
		if op.RoutingKey != "" {
			kinds[op.RoutingKey] = op.Kind
		}
	}
	want := map[string]string{EventEcho: "untyped", EventHold: "untyped", EventOrder: "request"}
	if doc.AsyncAPI != "3.0.0" || doc.Info.Title != "Responder" || len(kinds) != len(want) {
		t.Errorf("document: asyncapi %q, title %q, operations %v", doc.AsyncAPI, doc.Info.Title, kinds)
	}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("operation %s: kind %q, want %q", k, kinds[k], v)
		}
	}
	if doc.Components == nil || doc.Components.Schemas["OrderIn"] == nil || doc.Components.Schemas["OrderOut"] == nil {
		t.Error("document lacks the schemas of OrderIn and OrderOut")
	}
}

// checkDocsPage checks the page and its assets: nothing from elsewhere.
func checkDocsPage(t *testing.T, c *http.Client, url string) {
	status, h, b, _ := do(context.Background(), c, http.MethodGet, url+"/kafka/docs", "")
	page := string(b)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, `src="/kafka/docs/app.js"`) || !strings.Contains(page, `data-document="/kafka/asyncapi.json"`) ||
		!strings.Contains(page, `data-try="on"`) || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /kafka/docs: %d %v\n%s", status, h, page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page loads something from elsewhere:\n%s", page)
	}
	for path, ct := range map[string]string{"/kafka/docs/app.js": "text/javascript", "/kafka/docs/app.css": "text/css"} {
		status, h, b, _ := do(context.Background(), c, http.MethodGet, url+path, "")
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), ct) || len(b) < 1000 {
			t.Errorf("GET %s: %d %s, %d bytes", path, status, h.Get("Content-Type"), len(b))
		}
	}
}

// tryIt posts body to the "try it" endpoint under url.
func tryIt(t *testing.T, c *http.Client, url, body, contentType string) (int, asyncapi.TryResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/kafka/docs/try", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tr asyncapi.TryResponse
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil {
		t.Fatalf("try %s: %v", body, err)
	}
	return res.StatusCode, tr
}

// checkTry checks "try it" with a valid request, an invalid one, requests
// the endpoint refuses, and one without a reply.
func checkTry(t *testing.T, c *http.Client, url string, m *core.Manager, resp *Responder) {
	try := func(body, contentType string) (int, asyncapi.TryResponse) {
		t.Helper()
		return tryIt(t, c, url, body, contentType)
	}
	status, tr := try(`{"event":"test.order","data":{"name":"ada","qty":3}}`, "application/json")
	var out OrderOut
	if status != 200 || tr.Error != nil || tr.Reply == nil || tr.Reply.Decode(&out) != nil || out.Total != 9 ||
		len(tr.Reply.AuditLog) != 2 || tr.Reply.AuditLog[0].Location != m.Config().Location || tr.CorrelationID != tr.Reply.CorrelationID {
		t.Errorf("try valid: %d %+v", status, tr)
	}
	status, tr = try(`{"location":"`+resp.Location+`","event":"test.order","data":{"qty":0}}`, "application/json; charset=utf-8")
	if status != 200 || tr.Error == nil || tr.Error.StatusCode != 422 || tr.Error.Error != "invalid" ||
		!slices.Equal(fieldNames(tr.Error.Fields), []string{"name:required", "qty:min"}) || tr.Reply == nil || tr.Reply.Status != "error" {
		t.Errorf("try invalid: %d %+v", status, tr)
	}
	checkTryRefused(t, c, url, m, resp)
}

// checkTryRefused checks requests "try it" refuses, and one without a reply.
func checkTryRefused(t *testing.T, c *http.Client, url string, m *core.Manager, resp *Responder) {
	try := func(body, contentType string) (int, asyncapi.TryResponse) {
		t.Helper()
		return tryIt(t, c, url, body, contentType)
	}
	for _, tt := range []struct{ body, ct string }{
		{`{"event":"test.order","data":{}}`, "text/plain"},         // a cross-site form could send this
		{`{"event":"test.nothing","data":{}}`, "application/json"}, // no such operation
		{`{"location":"elsewhere","event":"test.order"}`, "application/json"},
		{`{"event":"test.order","data":`, "application/json"},
	} {
		if status, tr := try(tt.body, tt.ct); status < 400 || status >= 500 || tr.Error == nil || tr.Error.Message == "" {
			t.Errorf("try %s (%s): %d %+v, want a 4xx with an error", tt.body, tt.ct, status, tr.Error)
		}
	}
	// No reply within WithTryTimeout: 504, and the waiter is gone.
	if status, tr := try(`{"event":"test.hold","data":{"id":"try"}}`, "application/json"); status != http.StatusGatewayTimeout ||
		tr.Error == nil || tr.Error.Error != "reply_timeout" || tr.CorrelationID == "" {
		t.Errorf("try without a reply: %d %+v", status, tr.Error)
	}
	if held := resp.NextHeld(t); HeldID(t, held) != "try" {
		t.Errorf("held request %s", held.Data)
	}
	if p := m.Stats().Pending; p != 0 {
		t.Errorf("pending after the tries: %d", p)
	}
}
