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
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/echointeg"
	"github.com/kafka-broker/kafka-broker-go/embedded"
	"github.com/kafka-broker/kafka-broker-go/examples/echo/worker"
)

// apiLocation is the API's own topic; replies reach it on apiLocation.replies.
const apiLocation = "echo-example-api"

func main() {
	role := flag.String("role", "all", "what to run: all, api or worker")
	flag.Parse()
	if err := run(*role); err != nil {
		slog.Error("echo example", "error", err)
		os.Exit(1)
	}
}

func run(role string) error {
	if role != "all" && role != "api" && role != "worker" {
		return fmt.Errorf("unknown -role %q (all, api or worker)", role)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()

	brokers := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if brokers == "" {
		if role != "all" {
			return errors.New("-role=" + role + " runs one side only: set KAFKA_BOOTSTRAP_SERVERS to a broker both sides share")
		}
		cluster, err := embedded.Start()
		if err != nil {
			return err
		}
		defer cluster.Close()
		brokers = cluster.BootstrapServers()
		slog.Info("KAFKA_BOOTSTRAP_SERVERS is unset: started an embedded in-memory Kafka broker (development only)", "brokers", brokers)
	}

	if role == "api" {
		return serveAPI(ctx, brokers)
	}
	w, err := startWorker(ctx, brokers)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	var apiErr error
	if role == "all" {
		apiErr = serveAPI(ctx, brokers) // returns once HTTP drained
	} else {
		<-ctx.Done()
	}
	// The worker stops last: the API's requests in flight need its replies.
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(apiErr, w.Close(closeCtx))
}

func startWorker(ctx context.Context, brokers string) (*core.Manager, error) {
	w, err := core.NewManager(core.Config{BootstrapServers: brokers, Location: worker.Location})
	if err != nil {
		return nil, err
	}
	w.SetRouter(worker.Router())
	if err := w.InitConsumer(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, errors.Join(err, w.Close(closeCtx))
	}
	return w, nil
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
	api.GET("/hello/:name", echointeg.Handler(worker.Location, "greeter.hello"))
	// The JSON body becomes the event's data: {"n": 21}.
	api.POST("/double", echointeg.Handler(worker.Location, "math.double"))
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
		rep, err := echointeg.Request(c, worker.Location, ev)
		if err != nil {
			return err // 502, 503 or 504 with a JSON error
		}
		return echointeg.Respond(c, rep)
	})

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// ctx already ends on SIGINT and SIGTERM.
	return echointeg.Run(ctx, e, m, ":"+port, echointeg.WithSignals(), echointeg.WithOnReady(func(addr net.Addr) {
		slog.Info("echo example ready; try:")
		fmt.Printf("curl -s http://localhost:%s/hello/Ada\n", port)
	}))
}
