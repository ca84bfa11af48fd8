package echointeg_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
)

// TestScenarios runs the scenarios every adapter passes (httpintegtest).
func TestScenarios(t *testing.T) {
	t.Parallel()
	httpintegtest.RunScenarios(t, adapter)
}

func TestSkipper(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
