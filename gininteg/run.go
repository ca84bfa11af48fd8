package gininteg

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Run runs engine with m for the life of a service:
//
//  1. listens on addr (or WithListener's listener);
//  2. starts m's consumer with InitConsumer (WithInitTimeout);
//  3. serves HTTP until ctx ends, SIGINT or SIGTERM arrives (WithSignals), or
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
	cfg := runConfig{RunConfig: httpinteg.DefaultRunConfig("gininteg")}
	for _, o := range opts {
		if o != nil {
			o.applyRun(&cfg)
		}
	}
	srv := cfg.server
	if srv == nil {
		srv = new(http.Server)
	}
	if srv.Handler == nil && engine != nil {
		srv.Handler = engine
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = httpinteg.DefaultReadHeaderTimeout
	}
	return httpinteg.Run(ctx, srv, m, addr, cfg.RunConfig)
}
