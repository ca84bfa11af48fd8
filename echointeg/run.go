package echointeg

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Run runs e with m for the life of a service:
//
//  1. listens on addr (or WithListener's listener);
//  2. starts m's consumer with InitConsumer (WithInitTimeout);
//  3. serves HTTP with e.Server until ctx ends, SIGINT or SIGTERM arrives
//     (WithSignals), or serving fails;
//  4. stops accepting connections and waits for in-flight handlers, whose
//     awaits finish or time out, for up to the grace period
//     (WithGracePeriod); then it cancels the requests still running, which
//     answer 503;
//  5. closes m (WithCloseTimeout), after HTTP drained.
//
// Configure e.Server (timeouts, error log) before Run; a zero
// ReadHeaderTimeout becomes 10s. Use Run instead of e.Start. Run closes m before it returns, whatever happened. It returns nil
// when shutdown was requested and drained in time; an error wrapping
// context.DeadlineExceeded when the grace period ran out.
func Run(ctx context.Context, e *echo.Echo, m *core.Manager, addr string, opts ...RunOption) error {
	cfg := runConfig{RunConfig: httpinteg.DefaultRunConfig("echointeg")}
	for _, o := range opts {
		if o != nil {
			o.applyRun(&cfg)
		}
	}
	if e == nil {
		return httpinteg.Run(ctx, nil, m, addr, cfg.RunConfig)
	}
	if e.Server == nil {
		e.Server = new(http.Server)
	}
	srv := e.Server
	if srv.Handler == nil {
		srv.Handler = e
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = httpinteg.DefaultReadHeaderTimeout
	}
	return httpinteg.Run(ctx, srv, m, addr, cfg.RunConfig)
}
