// Package devenv is the plumbing the examples share and a real service would
// not copy: the -role and -start-timeout flags, a broker from
// KAFKA_BOOTSTRAP_SERVERS or an embedded one, $PORT, and the curl line
// printed once the API is up.
package devenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/embedded"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
	"github.com/kafka-broker/kafka-broker-go/internal/startup"
)

// DefaultStartTimeout bounds the start of each consumer when -start-timeout
// is not given: an unreachable broker ends the example with an error within
// a minute.
const DefaultStartTimeout = startup.DefaultTimeout

// closeTimeout bounds the worker's Close.
const closeTimeout = 10 * time.Second

// Setup is where an example's API and worker run.
type Setup struct {
	// Role is what runs: "all" (the default), "api" or "worker".
	Role string
	// Brokers is KAFKA_BOOTSTRAP_SERVERS; empty starts an embedded broker
	// (role "all" only).
	Brokers string
	// Addr is where the API listens: ":" + $PORT.
	Addr string
	// Listener, when set, is where the API serves instead of Addr.
	Listener net.Listener
	// StartTimeout bounds each consumer's start (-start-timeout).
	StartTimeout time.Duration
	// Log receives the examples' own log lines.
	Log *slog.Logger
}

// Port is the port of s.Addr or s.Listener, for the lines printed to try the
// API.
func (s Setup) Port() string {
	addr := s.Addr
	if s.Listener != nil {
		addr = s.Listener.Addr().String()
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port
}

// API serves an example's HTTP API on s.Brokers until ctx ends.
type API func(ctx context.Context, s Setup) error

// Main runs the sides of an HTTP example that the -role flag names, and
// exits with status 1 when that fails:
//
//	-role=all     the worker and the API in one process (the default); on an
//	              embedded broker when KAFKA_BOOTSTRAP_SERVERS is unset
//	-role=worker  only the worker, on KAFKA_BOOTSTRAP_SERVERS
//	-role=api     only the API, on KAFKA_BOOTSTRAP_SERVERS
//	-start-timeout=30s  how long each consumer may take to start
//
// The worker (package worker) consumes workerLocation. api serves the API
// until ctx ends, which SIGINT and SIGTERM do; a second signal ends the
// process at once. name labels the error logged on failure.
func Main(name, workerLocation string, api API) {
	s := Setup{Brokers: os.Getenv("KAFKA_BOOTSTRAP_SERVERS"), Addr: ":" + Port(), Log: slog.Default()}
	flag.StringVar(&s.Role, "role", "all", "what to run: all, api or worker")
	flag.DurationVar(&s.StartTimeout, "start-timeout", DefaultStartTimeout, "how long each Kafka consumer may take to start")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	if err := Run(ctx, s, workerLocation, api); err != nil {
		stop()
		s.Log.Error(name, "error", err)
		os.Exit(1)
	}
}

// Run runs the sides of an example that s.Role names until ctx ends. The
// API serves at once, while the consumers start; with role "all" the worker
// starts meanwhile. A consumer that cannot start within s.StartTimeout ends
// Run with an error that names the brokers and what to do.
func Run(ctx context.Context, s Setup, workerLocation string, api API) error {
	if s.Role != "all" && s.Role != "api" && s.Role != "worker" {
		return fmt.Errorf("unknown -role %q (all, api or worker)", s.Role)
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Brokers == "" {
		if s.Role != "all" {
			return errors.New("-role=" + s.Role + " runs one side only: set KAFKA_BOOTSTRAP_SERVERS to a broker both sides share")
		}
		cluster, err := StartEmbedded(s.Log)
		if err != nil {
			return err
		}
		defer cluster.Close()
		s.Brokers = cluster.BootstrapServers()
	}
	switch s.Role {
	case "api":
		return api(ctx, s)
	case "worker":
		w, err := startWorker(ctx, s, workerLocation)
		if err != nil || w == nil {
			return err
		}
		<-ctx.Done()
		return closeWorker(w)
	}
	return runBoth(ctx, s, workerLocation, api)
}

// runBoth serves the API and starts the worker at the same time. A worker
// that cannot start stops the API; the worker stops last, as the API's
// requests in flight need its replies.
func runBoth(ctx context.Context, s Setup, workerLocation string, api API) error {
	apiCtx, stopAPI := context.WithCancel(ctx)
	defer stopAPI()
	apiDone := make(chan error, 1)
	go func() { apiDone <- api(apiCtx, s) }()
	type started struct {
		w   *core.Manager
		err error
	}
	workerCtx, stopWorkerStart := context.WithCancel(ctx)
	defer stopWorkerStart()
	workerStarted := make(chan started, 1)
	go func() {
		w, err := startWorker(workerCtx, s, workerLocation)
		workerStarted <- started{w, err}
	}()

	var apiErr error
	var ws started
	select {
	case ws = <-workerStarted:
		if ws.err != nil || ws.w == nil {
			stopAPI()
			apiErr = <-apiDone
			var same *startup.Error
			if ws.err != nil && errors.As(apiErr, &same) {
				apiErr = nil // the API's consumer gave up for the same reason
			}
			return errors.Join(ws.err, apiErr)
		}
		apiErr = <-apiDone // returns once HTTP drained
	case apiErr = <-apiDone:
		stopWorkerStart()
		if ws = <-workerStarted; ws.w == nil {
			return apiErr
		}
	}
	return errors.Join(apiErr, closeWorker(ws.w))
}

// startWorker starts the worker within s.StartTimeout; nil and no error when
// ctx ended first.
func startWorker(ctx context.Context, s Setup, location string) (*core.Manager, error) {
	w, err := worker.New(s.Brokers, location)
	if err != nil {
		return nil, err
	}
	err = startup.Consumer(ctx, w, s.StartTimeout, "-start-timeout")
	if err == nil {
		return w, nil
	}
	closeErr := closeWorker(w)
	if ctx.Err() != nil {
		return nil, closeErr // stopped while starting
	}
	return nil, errors.Join(fmt.Errorf("worker: start consumer: %w", err), closeErr)
}

func closeWorker(w *core.Manager) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return w.Close(ctx)
}

// StartEmbedded starts an embedded in-memory broker, for when
// KAFKA_BOOTSTRAP_SERVERS is unset, and says so on log. The caller closes it.
func StartEmbedded(log *slog.Logger) (*embedded.Cluster, error) {
	cluster, err := embedded.Start()
	if err != nil {
		return nil, err
	}
	log.Info("KAFKA_BOOTSTRAP_SERVERS is unset: started an embedded in-memory Kafka broker (development only)",
		"brokers", cluster.BootstrapServers())
	return cluster, nil
}

// Port is the port the API listens on: $PORT, by default 8080.
func Port() string {
	if port := os.Getenv("PORT"); port != "" {
		return port
	}
	return "8080"
}

// CurlLine is the command that calls path on the API listening on port.
func CurlLine(port, path string) string {
	return "curl -s http://localhost:" + port + path
}
