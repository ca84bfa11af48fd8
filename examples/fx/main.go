// Command fx is the fx example: one fx application with a Gin HTTP API and a
// worker router. fxmodule injects the *core.Manager into the API and starts
// and stops the consumer with the application; the greeter module contributes
// the router that answers the API's requests.
//
//	go run ./examples/fx
//	curl -s http://localhost:8080/greet/gopher
//
// Without KAFKA_BOOTSTRAP_SERVERS it starts an embedded in-memory broker and
// supplies the core.Config itself; with it, fxmodule reads the configuration
// from the KAFKA_* variables (KAFKA_LOCATION is then required). The API
// listens on $PORT (default 8080) at once, as the consumer starts in the
// background (fxmodule.StartConfig): /livez answers 200 from then on,
// /readyz 503 until the consumer runs. A broker that cannot be reached ends
// the example within -start-timeout (default 30s), the reason logged.
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
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/examples/fx/greeter"
	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
	"github.com/kafka-broker/kafka-broker-go/gininteg"
)

// location is the service's topic when the example supplies the config.
const location = "fx-example"

func main() {
	s := devenv.Setup{
		Brokers: os.Getenv("KAFKA_BOOTSTRAP_SERVERS"),
		Addr:    ":" + devenv.Port(),
		Log:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	flag.DurationVar(&s.StartTimeout, "start-timeout", devenv.DefaultStartTimeout, "how long the Kafka consumer may take to start")
	flag.Parse()
	if err := run(s); err != nil {
		s.Log.Error("fx example", "error", err)
		os.Exit(1)
	}
}

// run runs the application until SIGINT or SIGTERM, or until its consumer
// fails to start.
func run(s devenv.Setup) error {
	log := s.Log
	opts := []fx.Option{
		fx.Supply(log, s),
		// The consumer starts in the background: the HTTP server, which
		// depends on the manager, serves /livez meanwhile.
		fx.Supply(fxmodule.StartConfig{Background: true, Timeout: s.StartTimeout}),
		fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
			fl := &fxevent.SlogLogger{Logger: l}
			fl.UseLogLevel(slog.LevelDebug) // fx's own events only when debugging
			return fl
		}),
		fxmodule.Module,
		greeter.Module,
		fx.Provide(newServer),
		fx.Invoke(func(*http.Server) {}),
	}
	if s.Brokers == "" {
		cluster, err := devenv.StartEmbedded(log)
		if err != nil {
			return err
		}
		defer cluster.Close() // after the app, and so the consumer, stopped
		opts = append(opts, fx.Supply(core.Config{BootstrapServers: cluster.BootstrapServers(), Location: location}))
	}

	app := fx.New(opts...)
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
	sig := <-app.Wait() // SIGINT, SIGTERM or fx.Shutdowner
	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		return err
	}
	if sig.ExitCode != 0 {
		return fmt.Errorf("stopped with exit code %d: the consumer did not start (see the error above)", sig.ExitCode)
	}
	log.Info("stopped: HTTP drained, then the consumer closed", "signal", sig.Signal)
	return nil
}

// serverParams are newServer's dependencies. Depending on the manager makes
// fx start the server after the consumer and stop it before: in-flight
// requests drain while replies can still arrive.
type serverParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Manager    *core.Manager
	Log        *slog.Logger
	Setup      devenv.Setup
}

func newServer(p serverParams) *http.Server {
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	e.Use(gin.Recovery())
	e.GET("/livez", gininteg.Liveness())            // 200 while the process serves
	e.GET("/readyz", gininteg.Readiness(p.Manager)) // 503 until the consumer runs
	e.GET("/greet/:name", gininteg.Middleware(p.Manager), greet)
	// GET /asyncapi.json and /docs: the events of the app's routers.
	gininteg.Docs(e, p.Manager, asyncapi.WithInfo(asyncapi.Info{Title: "fx example", Version: "1.0.0"}))

	port := p.Setup.Port()
	srv := &http.Server{Addr: p.Setup.Addr, Handler: e, ReadHeaderTimeout: 10 * time.Second}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln := p.Setup.Listener
			if ln == nil {
				var err error
				if ln, err = net.Listen("tcp", srv.Addr); err != nil {
					return err
				}
			}
			go func() {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					p.Log.Error("HTTP server failed", "error", err)
					p.Shutdowner.Shutdown(fx.ExitCode(1))
				}
			}()
			p.Log.Info("HTTP API serving; the consumer starts in the background (/readyz)", "addr", ln.Addr().String())
			fmt.Printf("Try it:\n  %s\n  docs: http://localhost:%s/docs\n", devenv.CurlLine(port, "/greet/gopher"), port)
			return nil
		},
		OnStop: srv.Shutdown,
	})
	return srv
}

// greet asks the greeter over Kafka and answers with its reply.
func greet(c *gin.Context) {
	m := gininteg.Manager(c)
	ev, err := core.NewEventObject("greet.hello", greeter.Hello{Name: c.Param("name")})
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	reply, err := m.Request(ctx, m.Config().Location, ev)
	if err != nil {
		c.JSON(status(err), gin.H{"error": err.Error(), "correlation_id": ev.CorrelationID})
		return
	}
	c.JSON(http.StatusOK, gin.H{"correlation_id": reply.CorrelationID, "reply": reply.Data})
}

func status(err error) int {
	switch {
	case errors.Is(err, core.ErrReplyTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, core.ErrClosed), errors.Is(err, core.ErrNotStarted):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}
