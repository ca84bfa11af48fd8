package gininteg_test

import (
	"context"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
)

func Example() {
	m, err := core.NewManager(core.Config{BootstrapServers: "localhost:9092", Location: "api"})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(gininteg.Middleware(m))
	r.GET("/readyz", gininteg.Readiness(m))
	r.GET("/livez", gininteg.Liveness())

	// The JSON body becomes the event's data; the reply's data the response.
	r.POST("/orders", gininteg.Handler("billing", "orders.create"))

	// The same by hand.
	r.GET("/orders/:id", func(c *gin.Context) {
		ev, err := core.NewEventObject("orders.get", gin.H{"id": c.Param("id")})
		if err != nil {
			c.AbortWithStatus(500)
			return
		}
		rep, err := gininteg.Request(c, "billing", ev)
		if err != nil {
			return // answered with 502, 503 or 504
		}
		gininteg.Respond(c, rep)
	})

	// Starts the consumer, serves, and drains on SIGINT/SIGTERM.
	if err := gininteg.Run(context.Background(), r, m, ":8080"); err != nil {
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
	r := gin.New()
	gininteg.Docs(r, m, asyncapi.WithInfo(asyncapi.Info{Title: "API", Version: "1.0.0"})) // GET /asyncapi.json, /docs
	api := r.Group("/", gininteg.Middleware(m))
	api.GET("/orders/:id", func(c *gin.Context) {
		order, err := gininteg.Call[Order](c, "billing", "orders.get", gin.H{"id": c.Param("id")})
		if err != nil {
			return // answered: 422 with the fields, 404 from the service, 502, 503 or 504
		}
		c.JSON(http.StatusOK, order)
	})
	if err := gininteg.Run(context.Background(), r, m, ":8080"); err != nil {
		log.Fatal(err)
	}
}
