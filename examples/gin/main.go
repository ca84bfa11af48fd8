// Command gin is the Gin example: an HTTP API whose handlers ask a worker over
// Kafka and answer with its reply, and a docs page of the worker's events.
//
//	go run ./examples/gin                # API and worker in one process
//	go run ./examples/gin -role=worker   # only the worker (needs KAFKA_BOOTSTRAP_SERVERS)
//	go run ./examples/gin -role=api      # only the API (needs KAFKA_BOOTSTRAP_SERVERS)
//
// Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded in-memory broker. The
// API listens on $PORT (default 8080) at once: /livez answers 200 from then
// on, /readyz 503 until its consumer runs. A broker that cannot be reached
// ends the example within -start-timeout (default 30s) with an error naming
// its address. http://localhost:8080/docs describes the worker's events and,
// as this is a development example, lets you send requests from the page
// ("try it").
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
)

const (
	// apiLocation is the API's own topic; replies reach it on apiLocation.replies.
	apiLocation = "gin-example-api"
	// workerLocation is the worker's topic, where the API sends its events.
	workerLocation = "gin-example-worker"
)

func main() {
	devenv.Main("gin example", workerLocation, serveAPI)
}

func serveAPI(ctx context.Context, s devenv.Setup) error {
	return runAPI(ctx, s, func(net.Addr) {
		s.Log.Info("gin example ready; try:")
		fmt.Println(devenv.CurlLine(s.Port(), "/hello/Ada"))
		fmt.Println("docs: http://localhost:" + s.Port() + "/docs")
	})
}

// runAPI serves the API on s.Addr (or s.Listener) until ctx ends; ready is
// called once its consumer runs.
func runAPI(ctx context.Context, s devenv.Setup, ready func(net.Addr)) error {
	m, err := core.NewManager(core.Config{
		BootstrapServers: s.Brokers,
		Location:         apiLocation,
		RequestTimeout:   10 * time.Second,
	})
	if err != nil {
		return err
	}
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	r.GET("/livez", gininteg.Liveness())
	r.GET("/readyz", gininteg.Readiness(m))

	// GET /asyncapi.json and /docs: the worker's events, from its router.
	// WithTryIt lets the page send requests through m: fine for development,
	// not for a public API.
	gininteg.Docs(r, m,
		asyncapi.WithInfo(asyncapi.Info{Title: "Gin example worker", Version: "1.0.0",
			Description: "The events the Gin example's API sends to its worker."}),
		asyncapi.WithService(asyncapi.Service{Location: workerLocation, Router: worker.Router(workerLocation)}),
		asyncapi.WithTryIt())

	api := r.Group("/", gininteg.Middleware(m))
	// Path parameters become the event's data: {"name": "Ada"}.
	api.GET("/hello/:name", gininteg.Handler(workerLocation, "greeter.hello"))
	// The JSON body becomes the event's data: {"n": 21}. Invalid data gets
	// the worker's 422 with the fields at fault.
	api.POST("/double", gininteg.Handler(workerLocation, "math.double"))
	// The same with a typed call: the reply decoded into worker.DoubleOut.
	api.GET("/double/:n", func(c *gin.Context) {
		n, err := strconv.ParseFloat(c.Param("n"), 64)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "n must be a number"})
			return
		}
		out, err := gininteg.Call[worker.DoubleOut](c, workerLocation, "math.double", worker.DoubleIn{N: &n})
		if err != nil {
			return // answered: 422, 502, 503 or 504 with a JSON error
		}
		c.JSON(http.StatusOK, out)
	})
	// An event: sent, not awaited.
	api.POST("/bye/:name", func(c *gin.Context) {
		ev, err := core.NewEventObject("greeter.bye", worker.Bye{Name: c.Param("name")})
		if err == nil {
			err = m.Produce(c.Request.Context(), workerLocation, ev)
		}
		if err != nil {
			c.JSON(http.StatusBadGateway, gin.H{"error": "not sent"})
			return
		}
		c.Status(http.StatusAccepted)
	})

	// Serves at once (/livez), starts the consumer meanwhile (/readyz), gives up
	// after s.StartTimeout. ctx already ends on SIGINT and SIGTERM.
	return gininteg.Run(ctx, r, m, s.Addr, gininteg.WithSignals(), gininteg.WithListener(s.Listener),
		gininteg.WithInitTimeout(s.StartTimeout), gininteg.WithLogger(s.Log), gininteg.WithOnReady(ready))
}
