package echointeg_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

var adapter = httpintegtest.Adapter{
	Handler: func(m *core.Manager, a httpintegtest.App) http.Handler { return app(m, a) },
	Run: func(ctx context.Context, m *core.Manager, a httpintegtest.App, p httpintegtest.RunParams) error {
		return echointeg.Run(ctx, app(m, a), m, "",
			echointeg.WithListener(p.Listener),
			echointeg.WithGracePeriod(p.GracePeriod),
			echointeg.WithInitTimeout(p.InitTimeout),
			echointeg.WithOnReady(p.OnReady),
			echointeg.WithSignals(),
			echointeg.WithLogger(kafkatest.Logger()))
	},
}

// app serves the routes of httpintegtest.App.
func app(m *core.Manager, a httpintegtest.App) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a.Enter(c.Path())
			if err := next(c); err != nil {
				c.Error(err)
			}
			a.Leave(c.Path(), c.Response().Status, m.Ready())
			return nil
		}
	})
	e.Use(echointeg.Middleware(m))
	echoHandler := echointeg.Handler(a.Topic, httpintegtest.EventEcho)
	e.POST("/echo/:id", echoHandler)
	e.GET("/echo/:id", echoHandler)
	e.GET("/hold/:id", echointeg.Handler(a.Topic, httpintegtest.EventHold))
	e.GET("/hold-timeout/:id", echointeg.Handler(a.Topic, httpintegtest.EventHold, echointeg.WithTimeout(a.HoldTimeout)))
	e.GET("/request/:id", func(c echo.Context) error {
		ev, err := core.NewEventObject(httpintegtest.EventEcho, map[string]string{"id": c.Param("id"), "via": "request"})
		if err != nil {
			return err
		}
		rep, err := echointeg.Request(c, a.Topic, ev)
		if err != nil {
			return err
		}
		return echointeg.Respond(c, rep)
	})
	e.GET("/custom", echointeg.Handler(a.Topic, httpintegtest.EventEcho, echointeg.WithEventData(func(c echo.Context) (any, error) {
		return httpintegtest.CustomData(c.QueryParam)
	})))
	e.GET("/manager", func(c echo.Context) error {
		fromContext, _ := core.FromContext(c.Request().Context())
		return c.JSON(http.StatusOK, map[string]bool{"adapter": echointeg.Manager(c) == m, "context": fromContext == m})
	})
	e.GET("/readyz", echointeg.Readiness(m))
	e.GET("/livez", echointeg.Liveness())
	e.POST("/order", echointeg.Handler(a.Topic, httpintegtest.EventOrder))
	e.POST("/call", func(c echo.Context) error {
		var in map[string]any
		if err := c.Bind(&in); err != nil {
			return err
		}
		out, err := echointeg.Call[httpintegtest.OrderOut](c, a.Topic, httpintegtest.EventOrder, in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, out)
	})
	if a.Docs != nil {
		echointeg.Docs(e.Group("/kafka"), m, a.Docs...)
	}
	return e
}

func TestTypedCalls(t *testing.T) {
	t.Parallel()
	httpintegtest.TypedCalls(t, adapter)
}

func TestDocs(t *testing.T) {
	t.Parallel()
	httpintegtest.Docs(t, adapter)
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	httpintegtest.ConcurrentRequests(t, adapter)
}

func TestClientDisconnect(t *testing.T) {
	t.Parallel()
	httpintegtest.ClientDisconnect(t, adapter)
}

func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	httpintegtest.ShutdownDrains(t, adapter)
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	httpintegtest.Readiness(t, adapter)
}

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	httpintegtest.ErrorResponses(t, adapter)
}

func TestNotStarted(t *testing.T) {
	t.Parallel()
	httpintegtest.NotStarted(t, adapter)
}

func TestManagerInContext(t *testing.T) {
	t.Parallel()
	httpintegtest.ManagerInContext(t, adapter)
}

func TestRunInitFailure(t *testing.T) {
	t.Parallel()
	httpintegtest.RunInitFailure(t, adapter)
}

func TestSkipper(t *testing.T) {
	m := httpintegtest.NewManager(t, "api")
	e := echo.New()
	e.Use(echointeg.Middleware(m, echointeg.WithSkipper(func(c echo.Context) bool { return c.Path() == "/skipped" })))
	var got = map[string]*core.Manager{}
	h := func(c echo.Context) error {
		got[c.Path()] = echointeg.Manager(c)
		return c.NoContent(http.StatusOK)
	}
	e.GET("/skipped", h)
	e.GET("/served", h)
	for _, p := range []string{"/skipped", "/served"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	if got["/skipped"] != nil || got["/served"] != m {
		t.Errorf("Manager: skipped %v, served %v (want nil, %v)", got["/skipped"], got["/served"], m)
	}
}

func TestWithoutMiddleware(t *testing.T) {
	e := echo.New()
	var got *core.Manager
	var reqErr error
	e.GET("/x", func(c echo.Context) error {
		got = echointeg.Manager(c)
		ev, _ := core.NewEventObject("x", nil)
		_, reqErr = echointeg.Request(c, "x", ev)
		return reqErr
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if got != nil {
		t.Errorf("Manager without Middleware = %v, want nil", got)
	}
	var he *echo.HTTPError
	if !errors.As(reqErr, &he) || he.Code != http.StatusInternalServerError {
		t.Errorf("Request error %#v, want an *echo.HTTPError with 500", reqErr)
	}
	var body echointeg.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusInternalServerError ||
		body.Error != "no_manager" || body.CorrelationID == "" {
		t.Errorf("response: %d %s", rec.Code, rec.Body)
	}
}

func TestRequestErrorUnwraps(t *testing.T) {
	m := httpintegtest.NewManager(t, "api") // never started
	e := echo.New()
	e.Use(echointeg.Middleware(m))
	var reqErr error
	e.GET("/x", func(c echo.Context) error {
		ev, _ := core.NewEventObject("x", nil)
		_, reqErr = echointeg.Request(c, "x", ev)
		return reqErr
	})
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if !errors.Is(reqErr, core.ErrNotStarted) {
		t.Errorf("errors.Is(%v, ErrNotStarted) = false", reqErr)
	}
}

func TestSetupPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
	}{
		{"Middleware(nil)", func() { echointeg.Middleware(nil) }},
		{"Readiness(nil)", func() { echointeg.Readiness(nil) }},
		{"Handler empty topic", func() { echointeg.Handler("", "a.b") }},
		{"Handler empty event", func() { echointeg.Handler("t", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.fn()
		})
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{core.ErrReplyTimeout, http.StatusGatewayTimeout},
		{core.ErrClosed, http.StatusServiceUnavailable},
		{core.ErrNotStarted, http.StatusServiceUnavailable},
		{context.Canceled, http.StatusServiceUnavailable},
		{core.ErrReplyTopicNotAllowed, http.StatusBadGateway},
	}
	for _, tt := range tests {
		if got := echointeg.StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
