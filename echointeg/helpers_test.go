package echointeg_test

import (
	"context"
	"net/http"
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
		return echointeg.Run(ctx, app(m, a), m, "", httpintegtest.RunOptions(p)...)
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
