package gininteg_test

import (
	"context"
	"net/http"
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
		return gininteg.Run(ctx, app(m, a), m, "", httpintegtest.RunOptions(p)...)
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
