// Command echo is the Echo example: an HTTP API whose handlers ask a worker
// over Kafka and answer with its reply.
//
//	go run ./examples/echo                # API and worker in one process
//	go run ./examples/echo -role=worker   # only the worker (needs KAFKA_BOOTSTRAP_SERVERS)
//	go run ./examples/echo -role=api      # only the API (needs KAFKA_BOOTSTRAP_SERVERS)
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
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
)

const (
	// apiLocation is the API's own topic; replies reach it on apiLocation.replies.
	apiLocation = "echo-example-api"
	// workerLocation is the worker's topic, where the API sends its events.
	workerLocation = "echo-example-worker"
)

func main() {
	devenv.Main("echo example", workerLocation, serveAPI)
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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/livez", echointeg.Liveness())
	e.GET("/readyz", echointeg.Readiness(m))

	api := e.Group("", echointeg.Middleware(m))
	// Path parameters become the event's data: {"name": "Ada"}.
	api.GET("/hello/:name", echointeg.Handler(workerLocation, "greeter.hello"))
	// The JSON body becomes the event's data: {"n": 21}.
	api.POST("/double", echointeg.Handler(workerLocation, "math.double"))
	// The same by hand, with the await helper.
	api.GET("/double/:n", func(c echo.Context) error {
		n, err := strconv.ParseFloat(c.Param("n"), 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "n must be a number")
		}
		ev, err := core.NewEventObject("math.double", map[string]float64{"n": n})
		if err != nil {
			return err
		}
		rep, err := echointeg.Request(c, workerLocation, ev)
		if err != nil {
			return err // 502, 503 or 504 with a JSON error
		}
		return echointeg.Respond(c, rep)
	})

	port := devenv.Port()
	// ctx already ends on SIGINT and SIGTERM.
	return echointeg.Run(ctx, e, m, ":"+port, echointeg.WithSignals(), echointeg.WithOnReady(func(addr net.Addr) {
		slog.Info("echo example ready; try:")
		fmt.Println(devenv.CurlLine(port, "/hello/Ada"))
	}))
}
