package echointeg

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// HealthOption configures Readiness.
type HealthOption = httpinteg.HealthOption

// WithCheck adds a readiness check: the service is not ready while fn fails.
// Its error text appears in the probe's body.
func WithCheck(name string, fn func(ctx context.Context) error) HealthOption {
	return httpinteg.WithCheck(name, fn)
}

// WithCheckTimeout bounds a readiness probe. Default 2s; d <= 0 keeps it.
func WithCheckTimeout(d time.Duration) HealthOption { return httpinteg.WithCheckTimeout(d) }

// Readiness returns a readiness probe handler: 200 when m's consumer has its
// partitions and its reply consumer is positioned (InitConsumer returned and
// Close has not begun), the broker is reachable, and every WithCheck passes;
// else 503. Run serves it while the consumer starts: 503 until then. The
// JSON body names each check:
//
//	{"status":"ready","checks":{"broker":"ok","consumer":"ok"}}
//
// It panics when m is nil.
func Readiness(m *core.Manager, opts ...HealthOption) echo.HandlerFunc {
	return echo.WrapHandler(httpinteg.ReadinessHandler("echointeg", m, opts))
}

// Liveness returns a liveness probe handler that answers 200
// {"status":"alive"} while the process serves HTTP, which Run does from the
// moment its port is open, before the consumer started. It does not look at
// the broker, so a broker outage makes the service unready, not restarted.
func Liveness() echo.HandlerFunc {
	return echo.WrapHandler(httpinteg.LivenessHandler())
}
