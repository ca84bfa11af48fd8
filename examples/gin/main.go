// Command gin is the Gin example: an HTTP API whose handlers ask a worker over
// Kafka and answer with its reply.
//
//	go run ./examples/gin                # API and worker in one process
//	go run ./examples/gin -role=worker   # only the worker (needs KAFKA_BOOTSTRAP_SERVERS)
//	go run ./examples/gin -role=api      # only the API (needs KAFKA_BOOTSTRAP_SERVERS)
//
// Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded in-memory broker. The
// API listens on $PORT (default 8080).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
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

func serveAPI(ctx context.Context, brokers string) error {
	m, err := core.NewManager(core.Config{
		BootstrapServers: brokers,
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

	api := r.Group("/", gininteg.Middleware(m))
	// Path parameters become the event's data: {"name": "Ada"}.
	api.GET("/hello/:name", gininteg.Handler(workerLocation, "greeter.hello"))
	// The JSON body becomes the event's data: {"n": 21}.
	api.POST("/double", gininteg.Handler(workerLocation, "math.double"))
	// The same by hand, with the await helper.
	api.GET("/double/:n", func(c *gin.Context) {
		n, err := strconv.ParseFloat(c.Param("n"), 64)
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "n must be a number"})
			return
		}
		ev, err := core.NewEventObject("math.double", gin.H{"n": n})
		if err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		rep, err := gininteg.Request(c, workerLocation, ev)
		if err != nil {
			return // answered 502, 503 or 504 with a JSON error
		}
		gininteg.Respond(c, rep)
	})

	port := devenv.Port()
	// ctx already ends on SIGINT and SIGTERM.
	return gininteg.Run(ctx, r, m, ":"+port, gininteg.WithSignals(), gininteg.WithOnReady(func(addr net.Addr) {
		slog.Info("gin example ready; try:")
		fmt.Println(devenv.CurlLine(port, "/hello/Ada"))
	}))
}
