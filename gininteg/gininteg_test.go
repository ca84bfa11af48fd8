package gininteg_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	kafkatest.Main(m)
}

var adapter = httpintegtest.Adapter{
	Handler: func(m *core.Manager, a httpintegtest.App) http.Handler { return app(m, a) },
	Run: func(ctx context.Context, m *core.Manager, a httpintegtest.App, p httpintegtest.RunParams) error {
		return gininteg.Run(ctx, app(m, a), m, "",
			gininteg.WithListener(p.Listener),
			gininteg.WithGracePeriod(p.GracePeriod),
			gininteg.WithInitTimeout(p.InitTimeout),
			gininteg.WithOnReady(p.OnReady),
			gininteg.WithSignals(),
			gininteg.WithLogger(kafkatest.Logger()))
	},
}

// app serves the routes of httpintegtest.App.
func app(m *core.Manager, a httpintegtest.App) *gin.Engine {
	r := gin.New()
	r.Use(func(c *gin.Context) {
		a.Enter(c.FullPath())
		c.Next()
		a.Leave(c.FullPath(), c.Writer.Status(), m.Ready())
	})
	r.Use(gininteg.Middleware(m))
	echo := gininteg.Handler(a.Topic, httpintegtest.EventEcho)
	r.POST("/echo/:id", echo)
	r.GET("/echo/:id", echo)
	r.GET("/hold/:id", gininteg.Handler(a.Topic, httpintegtest.EventHold))
	r.GET("/hold-timeout/:id", gininteg.Handler(a.Topic, httpintegtest.EventHold, gininteg.WithTimeout(a.HoldTimeout)))
	r.GET("/request/:id", func(c *gin.Context) {
		ev, err := core.NewEventObject(httpintegtest.EventEcho, gin.H{"id": c.Param("id"), "via": "request"})
		if err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		rep, err := gininteg.Request(c, a.Topic, ev)
		if err != nil {
			return
		}
		gininteg.Respond(c, rep)
	})
	r.GET("/custom", gininteg.Handler(a.Topic, httpintegtest.EventEcho, gininteg.WithEventData(func(c *gin.Context) (any, error) {
		return httpintegtest.CustomData(c.Query)
	})))
	r.GET("/manager", func(c *gin.Context) {
		fromContext, _ := core.FromContext(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"adapter": gininteg.Manager(c) == m, "context": fromContext == m})
	})
	r.GET("/readyz", gininteg.Readiness(m))
	r.GET("/livez", gininteg.Liveness())
	r.POST("/order", gininteg.Handler(a.Topic, httpintegtest.EventOrder))
	r.POST("/call", func(c *gin.Context) {
		var in map[string]any
		if err := c.ShouldBindJSON(&in); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		out, err := gininteg.Call[httpintegtest.OrderOut](c, a.Topic, httpintegtest.EventOrder, in)
		if err != nil {
			return
		}
		c.JSON(http.StatusOK, out)
	})
	if a.Docs != nil {
		gininteg.Docs(r.Group("/kafka"), m, a.Docs...)
	}
	return r
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

func TestWithoutMiddleware(t *testing.T) {
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
		if got := gininteg.StatusCode(tt.err); got != tt.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
