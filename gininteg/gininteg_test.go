package gininteg_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
)

// TestScenarios runs the scenarios every adapter passes (httpintegtest).
func TestScenarios(t *testing.T) {
	t.Parallel()
	httpintegtest.RunScenarios(t, adapter)
}

func TestWithoutMiddleware(t *testing.T) {
	t.Parallel()
	r := gin.New()
	var got *core.Manager
	r.GET("/x", func(c *gin.Context) {
		got = gininteg.Manager(c)
		ev, _ := core.NewEventObject("x", nil)
		gininteg.Request(c, "x", ev)
	})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if got != nil {
		t.Errorf("Manager without Middleware = %v, want nil", got)
	}
	var body gininteg.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusInternalServerError ||
		body.Error != "no_manager" || body.CorrelationID == "" {
		t.Errorf("Request without Middleware: %d %s", rec.Code, rec.Body)
	}
}

func TestSetupPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func()
	}{
		{"Middleware(nil)", func() { gininteg.Middleware(nil) }},
		{"Readiness(nil)", func() { gininteg.Readiness(nil) }},
		{"Handler empty topic", func() { gininteg.Handler("", "a.b") }},
		{"Handler empty event", func() { gininteg.Handler("t", "") }},
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
