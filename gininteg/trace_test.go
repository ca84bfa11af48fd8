package gininteg_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/trace"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg/httpintegtest"
)

func TestOneTraceThroughKafka(t *testing.T) {
	httpintegtest.OneTrace(t, func(m *core.Manager, topic string, tp trace.TracerProvider) http.Handler {
		r := gin.New()
		r.Use(otelgin.Middleware("api", otelgin.WithTracerProvider(tp)), gininteg.Middleware(m))
		r.GET("/echo/:id", gininteg.Handler(topic, httpintegtest.EventEcho))
		return r
	})
}
