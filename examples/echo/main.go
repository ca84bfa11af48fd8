// Command echo is the Echo example: an HTTP API whose handlers ask a worker
// over Kafka and answer with its reply.
//
//	go run ./examples/echo                # API and worker in one process
//	go run ./examples/echo -role=worker   # only the worker (needs KAFKA_BOOTSTRAP_SERVERS)
//	go run ./examples/echo -role=api      # only the API (needs KAFKA_BOOTSTRAP_SERVERS)
//
// Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded in-memory broker. The
// API listens on $PORT (default 8080) at once: /livez answers 200 from then
// on, /readyz 503 until its consumer runs. A broker that cannot be reached
// ends the example within -start-timeout (default 30s) with an error naming
// its address. http://localhost:8080/docs describes the worker's events.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
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

func serveAPI(ctx context.Context, s devenv.Setup) error {
	m, err := core.NewManager(core.Config{
		BootstrapServers: s.Brokers,
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
	// GET /asyncapi.json and /docs: the worker's events, from its router
	// (asyncapi.WithTryIt would add a form to send requests from the page).
	echointeg.Docs(e, m,
		asyncapi.WithInfo(asyncapi.Info{Title: "Echo example worker", Version: "1.0.0"}),
		asyncapi.WithService(asyncapi.Service{Location: workerLocation, Router: worker.Router(workerLocation)}))

	api := e.Group("", echointeg.Middleware(m))
	// Path parameters become the event's data: {"name": "Ada"}.
	api.GET("/hello/:name", echointeg.Handler(workerLocation, "greeter.hello"))
	// The JSON body becomes the event's data: {"n": 21}. Invalid data gets
	// the worker's 422 with the fields at fault.
	api.POST("/double", echointeg.Handler(workerLocation, "math.double"))
	// The same with a typed call: the reply decoded into worker.DoubleOut.
	api.GET("/double/:n", func(c echo.Context) error {
		n, err := strconv.ParseFloat(c.Param("n"), 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "n must be a number")
		}
		out, err := echointeg.Call[worker.DoubleOut](c, workerLocation, "math.double", worker.DoubleIn{N: &n})
		if err != nil {
			return err // 422, 502, 503 or 504 with a JSON error
		}
		return c.JSON(http.StatusOK, out)
	})

	// Serves at once (/livez), starts the consumer meanwhile (/readyz), gives up
	// after s.StartTimeout. ctx already ends on SIGINT and SIGTERM.
	return echointeg.Run(ctx, e, m, s.Addr, echointeg.WithSignals(), echointeg.WithListener(s.Listener),
		echointeg.WithInitTimeout(s.StartTimeout), echointeg.WithLogger(s.Log),
		echointeg.WithOnReady(func(net.Addr) {
			s.Log.Info("echo example ready; try:")
			fmt.Println(devenv.CurlLine(s.Port(), "/hello/Ada"))
			fmt.Println("docs: http://localhost:" + s.Port() + "/docs")
		}))
}
