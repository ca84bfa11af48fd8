package echointeg_test

import (
	"context"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
)

func Example() {
	m, err := core.NewManager(core.Config{BootstrapServers: "localhost:9092", Location: "api"})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.HideBanner = true
	e.Use(echointeg.Middleware(m, echointeg.WithSkipper(func(c echo.Context) bool {
		return c.Path() == "/livez"
	})))
	e.GET("/readyz", echointeg.Readiness(m))
	e.GET("/livez", echointeg.Liveness())

	// The JSON body becomes the event's data; the reply's data the response.
	e.POST("/orders", echointeg.Handler("billing", "orders.create"))

	// The same by hand.
	e.GET("/orders/:id", func(c echo.Context) error {
		ev, err := core.NewEventObject("orders.get", map[string]string{"id": c.Param("id")})
		if err != nil {
			return echo.NewHTTPError(http.StatusInternalServerError).SetInternal(err)
		}
		rep, err := echointeg.Request(c, "billing", ev)
		if err != nil {
			return err // 502, 503 or 504 with a JSON body
		}
		return echointeg.Respond(c, rep)
	})

	// Starts the consumer, serves, and drains on SIGINT/SIGTERM.
	if err := echointeg.Run(context.Background(), e, m, ":8080"); err != nil {
		log.Fatal(err)
	}
}

// A typed call, and the docs of the service's own routers.
func ExampleCall() {
	type Order struct {
		ID    int      `json:"id"`
		Items []string `json:"items"`
	}
	m, err := core.NewManager(core.Config{BootstrapServers: "localhost:9092", Location: "api"})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	echointeg.Docs(e, m, asyncapi.WithInfo(asyncapi.Info{Title: "API", Version: "1.0.0"})) // GET /asyncapi.json, /docs
	api := e.Group("", echointeg.Middleware(m))
	api.GET("/orders/:id", func(c echo.Context) error {
		order, err := echointeg.Call[Order](c, "billing", "orders.get", map[string]string{"id": c.Param("id")})
		if err != nil {
			return err // 422 with the fields, 404 from the service, 502, 503 or 504
		}
		return c.JSON(http.StatusOK, order)
	})
	if err := echointeg.Run(context.Background(), e, m, ":8080"); err != nil {
		log.Fatal(err)
	}
}
