// Package httpintegtest holds the scenarios that test the Gin and Echo
// adapters alike, against the test broker of kafkatest. Each adapter's tests
// describe how to build its app (Adapter) and run the scenarios.
package httpintegtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Generous bounds for a shared 2-core machine; they catch hangs, they are not
// timing goals.
const (
	waitTimeout  = 90 * time.Second
	startTimeout = 90 * time.Second
)

// Event names the responder handles.
const (
	EventEcho  = "test.echo"  // replies with the request's data
	EventHold  = "test.hold"  // hands the request to the test, which may reply
	EventOrder = "test.order" // typed: OrderIn -> OrderOut (see StartResponder)
)

// OrderIn is the data of EventOrder.
type OrderIn struct {
	Name string `json:"name" validate:"required"`
	Qty  int    `json:"qty" validate:"min=1,max=10"`
}

// OrderOut is the reply to EventOrder.
type OrderOut struct {
	Name  string `json:"name"`
	Qty   int    `json:"qty"`
	Total int    `json:"total"`
}

// App describes the routes an adapter's test app serves, all behind its
// Middleware except that an observing middleware wraps everything:
//
//	POST, GET /echo/:id      Handler(Topic, EventEcho)
//	GET /hold/:id            Handler(Topic, EventHold)
//	GET /hold-timeout/:id    Handler(Topic, EventHold, WithTimeout(HoldTimeout))
//	GET /request/:id         Request(Topic, EventEcho with {"id": id, "via": "request"}) then Respond
//	GET /custom              Handler(Topic, EventEcho, WithEventData(CustomData))
//	GET /manager             200 {"adapter": Manager(c) == m, "context": core.FromContext(request ctx) == m}
//	GET /readyz, /livez      Readiness(m), Liveness()
//	POST /order              Handler(Topic, EventOrder)
//	POST /call               Call[OrderOut](Topic, EventOrder, the JSON body), answered with 200 and the OrderOut
//	/kafka/...               Docs(group /kafka, m, Docs...) when Docs is not nil
type App struct {
	Topic       string
	Docs        []asyncapi.Option
	HoldTimeout time.Duration
	// Began is called as a request enters the app, with its route pattern.
	Began func(route string)
	// After is called once the request's handlers returned and its response
	// was written, with the route pattern, the status, and m.Ready() then.
	After func(route string, status int, ready bool)
}

// CustomData is the event data mapping of /custom: the query's name, required.
func CustomData(q func(string) string) (any, error) {
	name := q("name")
	if name == "" {
		return nil, errors.New("name is required")
	}
	return map[string]string{"name": name}, nil
}

// Enter calls a.Began when it is set; adapters call it first thing.
func (a App) Enter(route string) {
	if a.Began != nil {
		a.Began(route)
	}
}

// Leave calls a.After when it is set; adapters call it after the response.
func (a App) Leave(route string, status int, ready bool) {
	if a.After != nil {
		a.After(route, status, ready)
	}
}

// RunOptions are the options of the adapters' Run for p: p's settings,
// signals off, the test logger.
func RunOptions(p RunParams) []httpinteg.RunOption {
	return []httpinteg.RunOption{
		httpinteg.WithListener(p.Listener),
		httpinteg.WithGracePeriod(p.GracePeriod),
		httpinteg.WithInitTimeout(p.InitTimeout),
		httpinteg.WithOnReady(p.OnReady),
		httpinteg.WithSignals(),
		httpinteg.WithLogger(kafkatest.Logger()),
	}
}

// RunParams are the lifecycle settings a scenario gives the adapter's Run.
type RunParams struct {
	Listener    net.Listener
	GracePeriod time.Duration
	InitTimeout time.Duration
	OnReady     func(net.Addr)
}

// Adapter is what the scenarios need from an adapter.
type Adapter struct {
	// Handler returns the app for m.
	Handler func(m *core.Manager, app App) http.Handler
	// Run runs the app for m with the adapter's runner, signals off.
	Run func(ctx context.Context, m *core.Manager, app App, p RunParams) error
}

// NewManager returns a manager on the test broker, with a Location unique to
// the test, closed at the end of the test.
func NewManager(t testing.TB, prefix string, opts ...core.Option) *core.Manager {
	t.Helper()
	return newManager(t, kafkatest.Config(t, prefix), opts...)
}

func newManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	return kafkatest.NewManager(t, cfg, opts...)
}

// Start runs InitConsumer.
func Start(t testing.TB, m *core.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
}

// Responder is a service answering EventEcho and EventOrder, and holding
// EventHold for the test.
type Responder struct {
	Location string
	M        *core.Manager
	Router   *core.EventRouter
	held     chan *core.EventObject
}

// StartResponder starts a responder with a running consumer.
func StartResponder(t testing.TB, opts ...core.Option) *Responder {
	t.Helper()
	m := NewManager(t, "responder", opts...)
	r := &Responder{Location: m.Config().Location, M: m, held: make(chan *core.EventObject, 1024)}
	test := core.NewEventRouter("test")
	test.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
		return m.Reply(ctx, ev, ev.Data)
	})
	test.BindEvent("hold", func(_ context.Context, ev *core.EventObject) error {
		r.held <- ev
		return nil
	})
	// Names "taken" and "broken" get error replies of the handler's choice.
	core.HandleEvent(test, "order", func(_ context.Context, in OrderIn) (OrderOut, error) {
		switch in.Name {
		case "taken":
			return OrderOut{}, core.ErrorReply(http.StatusConflict, "name %q is taken", in.Name)
		case "broken":
			return OrderOut{}, core.ErrorReply(http.StatusInternalServerError, "database down")
		}
		return OrderOut{Name: in.Name, Qty: in.Qty, Total: 3 * in.Qty}, nil
	})
	root := core.NewEventRouter("responder")
	root.IncludeBinder(test)
	r.Router = root
	m.SetRouter(root)
	Start(t, m)
	return r
}

// NextHeld returns the next EventHold request the responder received.
func (r *Responder) NextHeld(t testing.TB) *core.EventObject {
	t.Helper()
	select {
	case ev := <-r.held:
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no held request reached the responder")
		return nil
	}
}

// Reply answers a held request.
func (r *Responder) Reply(t testing.TB, req *core.EventObject, data any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.M.Reply(ctx, req, data); err != nil {
		t.Fatalf("Reply: %v", err)
	}
}

// HeldID is the "id" of a held request's data.
func HeldID(t testing.TB, ev *core.EventObject) string {
	t.Helper()
	var d struct{ ID string }
	if err := ev.Decode(&d); err != nil {
		t.Fatalf("held request: %v", err)
	}
	return d.ID
}

// Client returns an HTTP client whose connections close at the end of the test.
func Client(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 2 * waitTimeout}
}

// Serve runs the adapter's Run on a new local listener until stop is called
// (or the test ends) and returns its base URL once it serves. stop returns
// Run's error.
func Serve(t testing.TB, a Adapter, m *core.Manager, app App, p RunParams) (url string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Listener = ln
	ready := make(chan net.Addr, 1)
	p.OnReady = func(addr net.Addr) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, m, app, p) }()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(waitTimeout):
				result = errors.New("the adapter's Run did not return after its context ended")
			}
		}
		return result
	}
	t.Cleanup(func() { stop() })
	select {
	case addr := <-ready:
		return "http://" + addr.String(), stop
	case err := <-done:
		stopped = true
		cancel()
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(startTimeout):
		t.Fatal("Run did not start serving")
	}
	return "", stop
}

// Get does a GET and returns the status and body.
func Get(t testing.TB, c *http.Client, url string) (int, []byte) {
	t.Helper()
	return Do(t, c, http.MethodGet, url, "")
}

// Do sends a request and returns the status and body.
func Do(t testing.TB, c *http.Client, method, url, body string) (int, []byte) {
	t.Helper()
	status, _, b, err := do(context.Background(), c, method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, b
}

func do(ctx context.Context, c *http.Client, method, url, body string) (int, http.Header, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

// JSONEqual reports whether a and b are the same JSON value.
func JSONEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// errorBody decodes an error response.
type errorBody struct {
	Error         string `json:"error"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlation_id"`
}

func decodeError(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e
}

// RunScenarios runs every scenario against a, each as a parallel subtest
// named after it (TestScenarios/TypedCalls, ...).
func RunScenarios(t *testing.T, a Adapter) {
	scenarios := []struct {
		name string
		run  func(*testing.T, Adapter)
	}{
		{"TypedCalls", TypedCalls},
		{"Docs", Docs},
		{"ConcurrentRequests", ConcurrentRequests},
		{"ClientDisconnect", ClientDisconnect},
		{"ShutdownDrains", ShutdownDrains},
		{"Readiness", Readiness},
		{"ErrorResponses", ErrorResponses},
		{"NotStarted", NotStarted},
		{"ManagerInContext", ManagerInContext},
		{"RunInitFailure", RunInitFailure},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t, a)
		})
	}
}
