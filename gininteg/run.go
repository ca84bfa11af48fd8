package gininteg

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// RunOption configures Run.
type RunOption = httpinteg.RunOption

// WithGracePeriod bounds how long Run waits, once shutdown began, for
// in-flight handlers before it cancels their requests' contexts (their awaits
// then end with 503). Default 20s; d <= 0 keeps it.
func WithGracePeriod(d time.Duration) RunOption { return httpinteg.WithGracePeriod(d) }

// WithCloseTimeout bounds Manager.Close after HTTP drained. Default 10s;
// d <= 0 keeps it.
func WithCloseTimeout(d time.Duration) RunOption { return httpinteg.WithCloseTimeout(d) }

// WithInitTimeout bounds Manager.InitConsumer, which runs while HTTP serves:
// past it Run shuts down and returns why the consumer did not start. Default
// 30s; d <= 0 keeps it.
func WithInitTimeout(d time.Duration) RunOption { return httpinteg.WithInitTimeout(d) }

// WithSignals sets the signals that start the shutdown, SIGINT and SIGTERM by
// default. No signals: only ctx stops Run.
func WithSignals(sig ...os.Signal) RunOption { return httpinteg.WithSignals(sig...) }

// WithListener serves on ln instead of listening on Run's addr.
func WithListener(ln net.Listener) RunOption { return httpinteg.WithListener(ln) }

// WithOnReady calls fn with the listening address once the consumer runs
// (the server accepts requests from the start).
func WithOnReady(fn func(addr net.Addr)) RunOption { return httpinteg.WithOnReady(fn) }

// WithLogger sets the logger of Run; the default is slog.Default().
func WithLogger(l *slog.Logger) RunOption { return httpinteg.WithLogger(l) }

// WithServer makes Run serve with srv, for its timeouts or error log. Run
// sets srv.Handler to the engine when it is nil, and a zero
// ReadHeaderTimeout to 10s.
func WithServer(srv *http.Server) RunOption { return httpinteg.WithServer(srv) }

// Run runs engine with m for the life of a service:
//
//  1. listens on addr (or WithListener's listener) and serves HTTP at once,
//     so Liveness answers 200 from the moment the port is open;
//  2. starts m's consumer meanwhile (InitConsumer, bounded by
//     WithInitTimeout): Readiness answers 503, and requests to other
//     services 503 not_ready, until it runs; when it cannot start in time,
//     Run shuts down and returns why, naming the brokers;
//  3. serves until ctx ends, SIGINT or SIGTERM arrives (WithSignals), or
//     serving fails;
//  4. stops accepting connections and waits for in-flight handlers, whose
//     awaits finish or time out, for up to the grace period
//     (WithGracePeriod); then it cancels the requests still running, which
//     answer 503;
//  5. closes m (WithCloseTimeout), after HTTP drained.
//
// Run closes m before it returns, whatever happened. It returns nil when
// shutdown was requested and drained in time; an error wrapping
// context.DeadlineExceeded when the grace period ran out.
func Run(ctx context.Context, engine *gin.Engine, m *core.Manager, addr string, opts ...RunOption) error {
	cfg := httpinteg.NewRunConfig("gininteg", opts)
	srv := cfg.Server
	if srv == nil {
		srv = new(http.Server)
	}
	if srv.Handler == nil && engine != nil {
		srv.Handler = engine
	}
	return httpinteg.Run(ctx, srv, m, addr, cfg)
}
