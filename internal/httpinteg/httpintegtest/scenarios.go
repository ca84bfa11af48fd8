package httpintegtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Route patterns of App, as the observing middleware reports them.
const (
	routeHold        = "/hold/:id"
	routeHoldTimeout = "/hold-timeout/:id"
)

// ConcurrentRequests sends 200 concurrent requests through Run, over all the
// ways a request becomes an event, and checks each gets its own reply.
func ConcurrentRequests(t *testing.T, a Adapter) {
	resp := StartResponder(t)
	m := NewManager(t, "api")
	url, stop := Serve(t, a, m, App{Topic: resp.Location}, RunParams{GracePeriod: time.Minute})
	client := Client(t)

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := concurrentRequest(client, url, i); err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := m.Stats().Pending; p != 0 {
		t.Errorf("pending requests after all answered: %d", p)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if m.Ready() {
		t.Error("manager still ready after Run returned")
	}
}

func concurrentRequest(c *http.Client, url string, i int) error {
	var method, path, body, want string
	wantStatus := http.StatusOK
	switch i % 4 {
	case 0: // the reply sets the status; the member leaves the body
		method, path = http.MethodPost, fmt.Sprintf("/echo/%d", i)
		body = fmt.Sprintf(`{"id":%d,"http_status":201}`, i)
		want, wantStatus = fmt.Sprintf(`{"id":%d}`, i), http.StatusCreated
	case 1: // the body is the data
		method, path = http.MethodPost, fmt.Sprintf("/echo/%d", i)
		body = fmt.Sprintf(`{"id":%d,"text":"hello %d","list":[1,2]}`, i, i)
		want = body
	case 2: // without a body, the parameters are the data
		method, path = http.MethodGet, fmt.Sprintf("/echo/%d?q=%d&tag=a&tag=b&id=query", i, i)
		want = fmt.Sprintf(`{"id":"%d","q":"%d","tag":["a","b"]}`, i, i)
	case 3: // Request and Respond by hand
		method, path = http.MethodGet, fmt.Sprintf("/request/%d", i)
		want = fmt.Sprintf(`{"id":"%d","via":"request"}`, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	status, h, got, err := do(ctx, c, method, url+path, body)
	if err != nil {
		return err
	}
	if status != wantStatus || !JSONEqual(got, []byte(want)) {
		return fmt.Errorf("%s %s: got %d %s, want %d %s", method, path, status, got, wantStatus, want)
	}
	if h.Get("X-Correlation-ID") == "" {
		return fmt.Errorf("%s %s: no X-Correlation-ID header", method, path)
	}
	return nil
}

// ClientDisconnect checks that a client going away mid-wait ends the handler's
// wait and frees the waiter, and that the reply coming later is a late reply.
func ClientDisconnect(t *testing.T, a Adapter) {
	resp := StartResponder(t)
	late := make(chan *core.EventObject, 1)
	m := NewManager(t, "api", core.WithLateReplyHook(func(ev *core.EventObject) {
		select {
		case late <- ev:
		default:
		}
	}))
	handled := make(chan int, 1)
	app := App{Topic: resp.Location, After: func(route string, status int, _ bool) {
		if route == routeHold {
			handled <- status
		}
	}}
	url, stop := Serve(t, a, m, app, RunParams{GracePeriod: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clientErr := make(chan error, 1)
	go func() {
		_, _, _, err := do(ctx, Client(t), http.MethodGet, url+"/hold/1", "")
		clientErr <- err
	}()
	held := resp.NextHeld(t)
	if p := m.Stats().Pending; p != 1 {
		t.Fatalf("pending while the handler waits: %d, want 1", p)
	}
	cancel()
	if err := <-clientErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want context.Canceled", err)
	}
	select {
	case status := <-handled:
		if status != http.StatusServiceUnavailable {
			t.Errorf("handler answered %d, want 503 (canceled)", status)
		}
	case <-time.After(waitTimeout):
		t.Fatal("handler still waiting after the client disconnected")
	}
	if p := m.Stats().Pending; p != 0 {
		t.Fatalf("pending after the client disconnected: %d, want 0", p)
	}

	resp.Reply(t, held, map[string]string{"id": "1"})
	select {
	case ev := <-late:
		if ev.CorrelationID != held.CorrelationID {
			t.Errorf("late reply %s, want %s", ev.CorrelationID, held.CorrelationID)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the reply to the abandoned request never arrived as a late reply")
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// ShutdownDrains stops Run with 100 requests in flight: 40 get their replies
// after shutdown began (200), 30 time out (504, or 503 past the grace
// period), 30 never get a reply and are canceled at the end of the grace
// period (503). No client hangs, and the manager closes only after every
// handler returned.
func ShutdownDrains(t *testing.T, a Adapter) {
	resp := StartResponder(t)
	m := NewManager(t, "api")
	const n, released, timingOut = 100, 40, 30
	began := make(chan string, n)
	type handled struct {
		status int
		ready  bool
	}
	after := make(chan handled, n)
	app := App{
		Topic:       resp.Location,
		HoldTimeout: time.Second,
		Began:       func(route string) { began <- route },
		After: func(_ string, status int, ready bool) {
			after <- handled{status, ready}
		},
	}
	url, stop := Serve(t, a, m, app, RunParams{GracePeriod: 5 * time.Second})
	client := Client(t)

	type result struct {
		i, status int
		err       error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		path := fmt.Sprintf("/hold/%d", i)
		if i >= released && i < released+timingOut {
			path = fmt.Sprintf("/hold-timeout/%d", i)
		}
		go func() {
			status, _, _, err := do(context.Background(), client, http.MethodGet, url+path, "")
			results <- result{i, status, err}
		}()
	}
	// Every request is in a handler, and every /hold one is awaiting.
	for i := 0; i < n; i++ {
		select {
		case <-began:
		case <-time.After(waitTimeout):
			t.Fatalf("only %d requests reached a handler", i)
		}
	}
	toRelease := heldToRelease(t, resp, n-timingOut, released, timingOut)

	runErr := make(chan error, 1)
	go func() { runErr <- stop() }()
	for _, ev := range toRelease {
		resp.Reply(t, ev, map[string]string{"id": HeldID(t, ev)})
	}

	for range n {
		select {
		case r := <-results:
			checkDrained(t, r.i, r.status, r.err, released, timingOut)
		case <-time.After(waitTimeout):
			t.Fatal("a request hangs during shutdown")
		}
	}
	select {
	case err := <-runErr:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run: %v, want the grace period exceeded", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	for range n {
		select {
		case h := <-after:
			if !h.ready {
				t.Errorf("a handler answering %d returned after the manager began closing", h.status)
			}
		case <-time.After(waitTimeout):
			t.Fatal("a handler did not return")
		}
	}
	if m.Ready() {
		t.Error("manager still ready after Run returned")
	}
	if _, err := client.Get(url + "/livez"); err == nil {
		t.Error("server still accepts requests after Run returned")
	}
}

// heldToRelease returns the /hold requests of ShutdownDrains that the
// test replies to (ids below released), once the need requests that wait
// for a reply reached the responder; the /hold-timeout ones (ids from
// released, timingOut of them) may time out first and are skipped.
func heldToRelease(t *testing.T, resp *Responder, need, released, timingOut int) map[string]*core.EventObject {
	t.Helper()
	toRelease := make(map[string]*core.EventObject)
	for need > 0 {
		ev := resp.NextHeld(t)
		id := HeldID(t, ev)
		k, err := strconv.Atoi(id)
		if err != nil {
			t.Fatalf("held request id %q", id)
		}
		if k >= released && k < released+timingOut {
			continue
		}
		need--
		if k < released {
			toRelease[id] = ev
		}
	}
	return toRelease
}

// checkDrained checks the answer to request i of ShutdownDrains: 200 for a
// released one, 504 (or 503 past the grace period) for one timing out, 503
// for one canceled at the end of the grace period.
func checkDrained(t *testing.T, i, status int, err error, released, timingOut int) {
	t.Helper()
	var want []int
	switch {
	case i < released:
		want = []int{http.StatusOK}
	case i < released+timingOut:
		want = []int{http.StatusGatewayTimeout, http.StatusServiceUnavailable}
	default:
		want = []int{http.StatusServiceUnavailable}
	}
	if err != nil {
		t.Errorf("request %d: %v", i, err)
	} else if !contains(want, status) {
		t.Errorf("request %d: status %d, want one of %v", i, status, want)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Readiness checks the probes before InitConsumer, after it and after Close.
func Readiness(t *testing.T, a Adapter) {
	m := NewManager(t, "api")
	h := a.Handler(m, App{Topic: "unused"})
	probe := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := probe("/readyz"); code != http.StatusServiceUnavailable ||
		!JSONEqual([]byte(body), []byte(`{"status":"not_ready","checks":{"consumer":"not started or closing","broker":"ok"}}`)) {
		t.Errorf("before InitConsumer: readyz %d %s, want 503 not_ready", code, body)
	}
	if code, body := probe("/livez"); code != http.StatusOK || !JSONEqual([]byte(body), []byte(`{"status":"alive"}`)) {
		t.Errorf("livez %d %s", code, body)
	}
	Start(t, m)
	if code, body := probe("/readyz"); code != http.StatusOK ||
		!JSONEqual([]byte(body), []byte(`{"status":"ready","checks":{"consumer":"ok","broker":"ok"}}`)) {
		t.Errorf("after InitConsumer: readyz %d %s, want 200 ready", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := probe("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("after Close: readyz %d %s, want 503", code, body)
	}
}

// ErrorResponses checks the error mapping with no consumer running.
func ErrorResponses(t *testing.T, a Adapter) {
	m := NewManager(t, "api")
	// Requests to the manager's own Location are stored there, never answered.
	h := a.Handler(m, App{Topic: m.Config().Location, HoldTimeout: 500 * time.Millisecond})
	bad := a.Handler(m, App{Topic: "not a topic!"})
	serve := func(h http.Handler, method, path, body string) (int, errorBody, string) {
		var req *http.Request
		if body != "" {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		e := decodeError(t, rec.Body.Bytes())
		if id := rec.Header().Get("X-Correlation-ID"); id != e.CorrelationID {
			t.Errorf("X-Correlation-ID %q, body's correlation_id %q", id, e.CorrelationID)
		}
		return rec.Code, e, rec.Header().Get("Content-Type")
	}
	Start(t, m)
	tests := []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		body    string
		status  int
		code    string
		message string
	}{
		{"invalid topic", bad, http.MethodGet, "/echo/1", "", http.StatusBadGateway, "broker_error", ""},
		{"body not JSON", h, http.MethodPost, "/echo/1", "{not json", http.StatusBadRequest, "bad_request", ""},
		{"body too large", h, http.MethodPost, "/echo/1", `"` + strings.Repeat("x", core.DefaultMaxRecordBytes) + `"`, http.StatusRequestEntityTooLarge, "too_large", ""},
		{"custom mapping error", h, http.MethodGet, "/custom", "", http.StatusBadRequest, "bad_request", "name is required"},
		{"reply timeout", h, http.MethodGet, "/hold-timeout/1", "", http.StatusGatewayTimeout, "reply_timeout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, ct := serve(tt.h, tt.method, tt.path, tt.body)
			if status != tt.status || body.Error != tt.code || (tt.message != "" && body.Message != tt.message) {
				t.Errorf("got %d %+v, want %d %s %q", status, body, tt.status, tt.code, tt.message)
			}
			if !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status >= 500 && body.CorrelationID == "" {
				t.Error("no correlation_id in a broker error")
			}
		})
	}
	if p := m.Stats().Pending; p != 0 {
		t.Errorf("pending after errors: %d", p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := serve(h, http.MethodGet, "/echo/1", ""); status != http.StatusServiceUnavailable || body.Error != "closed" {
		t.Errorf("closed manager: %d %+v, want 503 closed", status, body)
	}
}

// NotStarted checks requests before InitConsumer answer 503 not_ready.
func NotStarted(t *testing.T, a Adapter) {
	m := NewManager(t, "api")
	h := a.Handler(m, App{Topic: kafkatest.Name(t, "target")})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/echo/1", nil))
	if body := decodeError(t, rec.Body.Bytes()); rec.Code != http.StatusServiceUnavailable || body.Error != "not_ready" {
		t.Errorf("got %d %+v, want 503 not_ready", rec.Code, body)
	}
}

// ManagerInContext checks both ways a handler finds the manager.
func ManagerInContext(t *testing.T, a Adapter) {
	m := NewManager(t, "api")
	rec := httptest.NewRecorder()
	a.Handler(m, App{Topic: "unused"}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/manager", nil))
	if rec.Code != http.StatusOK || !JSONEqual(rec.Body.Bytes(), []byte(`{"adapter":true,"context":true}`)) {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

// RunInitFailure runs an app whose broker cannot be reached: while the
// consumer starts, the server already serves (liveness 200, readiness 503,
// requests 503 not_ready); then Run gives up after its init timeout with an
// error that names the broker's address and what to set, never calls
// OnReady, stops serving and closes the manager.
func RunInitFailure(t *testing.T, a Adapter) {
	dead := kafkatest.ClosedAddr(t)
	m := newManager(t, core.Config{BootstrapServers: dead, Location: kafkatest.Name(t, "api")})
	runLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + runLn.Addr().String()
	const initTimeout = 8 * time.Second // the probes below take up to 2s each
	var served atomic.Bool
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- a.Run(context.Background(), m, App{Topic: "unused"}, RunParams{
			Listener:    runLn,
			InitTimeout: initTimeout,
			OnReady:     func(net.Addr) { served.Store(true) },
		})
	}()
	c := Client(t)
	probes := []struct {
		path   string
		status int
		body   string
	}{
		{"/livez", http.StatusOK, `{"status":"alive"}`},
		{"/echo/1", http.StatusServiceUnavailable, ""},
		{"/readyz", http.StatusServiceUnavailable, `{"status":"not_ready","checks":{"consumer":"not started or closing","broker":"unreachable"}}`},
	}
	for _, p := range probes {
		status, body := Get(t, c, url+p.path)
		if status != p.status || (p.body != "" && !JSONEqual(body, []byte(p.body))) {
			t.Errorf("GET %s while the consumer starts: %d %s, want %d %s", p.path, status, body, p.status, p.body)
		}
		if p.body == "" && decodeError(t, body).Error != "not_ready" {
			t.Errorf("GET %s while the consumer starts: %s, want error not_ready", p.path, body)
		}
	}
	select {
	case err = <-done:
	case <-time.After(initTimeout + waitTimeout):
		t.Fatal("Run did not give up on the unreachable broker")
	}
	t.Logf("Run returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || served.Load() {
		t.Fatalf("Run = %v (OnReady called: %v), want an error and no OnReady", err, served.Load())
	}
	for _, want := range []string{"start consumer", dead, "KAFKA_BOOTSTRAP_SERVERS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run's error lacks %q: %v", want, err)
		}
	}
	if _, err := c.Get(url + "/livez"); err == nil {
		t.Error("still serving after Run returned")
	}
	ev, _ := core.NewEventObject("x", nil)
	if _, err := m.Request(context.Background(), "x", ev); !errors.Is(err, core.ErrClosed) {
		t.Errorf("manager after Run: %v, want ErrClosed", err)
	}
}
