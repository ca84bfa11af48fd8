package echointeg

import (
	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Readiness returns a readiness probe handler: 200 when m's consumer has its
// partitions and its reply consumer is positioned (InitConsumer returned and
// Close has not begun), the broker is reachable, and every WithCheck passes;
// else 503. The JSON body names each check:
//
//	{"status":"ready","checks":{"broker":"ok","consumer":"ok"}}
//
// It panics when m is nil.
func Readiness(m *core.Manager, opts ...HealthOption) echo.HandlerFunc {
	if m == nil {
		panic("echointeg: Readiness: nil manager")
	}
	var cfg healthConfig
	for _, o := range opts {
		if o != nil {
			o.applyHealth(&cfg)
		}
	}
	return func(c echo.Context) error {
		status, rep := httpinteg.Readiness(c.Request().Context(), m, cfg.timeout, cfg.checks)
		return c.JSON(status, rep)
	}
}

// Liveness returns a liveness probe handler that answers 200
// {"status":"alive"} while the process serves HTTP. It does not look at the
// broker, so a broker outage makes the service unready, not restarted.
func Liveness() echo.HandlerFunc {
	return func(c echo.Context) error {
		status, rep := httpinteg.Liveness()
		return c.JSON(status, rep)
	}
}
