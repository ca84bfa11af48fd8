// Package devenv is the plumbing the examples share and a real service would
// not copy: the -role flag, a broker from KAFKA_BOOTSTRAP_SERVERS or an
// embedded one, $PORT, and the curl line printed once the API is up.
package devenv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kafka-broker/kafka-broker-go/embedded"
	"github.com/kafka-broker/kafka-broker-go/examples/worker"
)

// Main runs the sides of an HTTP example that the -role flag names, and
// exits with status 1 when that fails:
//
//	-role=all     the worker and the API in one process (the default); on an
//	              embedded broker when KAFKA_BOOTSTRAP_SERVERS is unset
//	-role=worker  only the worker, on KAFKA_BOOTSTRAP_SERVERS
//	-role=api     only the API, on KAFKA_BOOTSTRAP_SERVERS
//
// The worker (package worker) consumes workerLocation. serveAPI serves the
// API on brokers until ctx ends, which SIGINT and SIGTERM do; a second signal
// ends the process at once. name labels the error logged on failure.
func Main(name, workerLocation string, serveAPI func(ctx context.Context, brokers string) error) {
	role := flag.String("role", "all", "what to run: all, api or worker")
	flag.Parse()
	if err := run(*role, workerLocation, serveAPI); err != nil {
		slog.Error(name, "error", err)
		os.Exit(1)
	}
}

func run(role, workerLocation string, serveAPI func(context.Context, string) error) error {
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
		cluster, err := StartEmbedded(slog.Default())
		if err != nil {
			return err
		}
		defer cluster.Close()
		brokers = cluster.BootstrapServers()
	}

	if role == "api" {
		return serveAPI(ctx, brokers)
	}
	w, err := worker.Start(ctx, brokers, workerLocation)
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
