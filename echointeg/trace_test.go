package echointeg_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
)

func TestOneTraceThroughKafka(t *testing.T) {
	httpintegtest.OneTrace(t, func(m *core.Manager, topic string, tp trace.TracerProvider) http.Handler {
		e := echo.New()
		e.Use(otelecho.Middleware("api", otelecho.WithTracerProvider(tp)), echointeg.Middleware(m))
		e.GET("/echo/:id", echointeg.Handler(topic, httpintegtest.EventEcho))
		return e
	})
}
