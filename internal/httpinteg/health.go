package httpinteg

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultCheckTimeout bounds a readiness probe.
const DefaultCheckTimeout = 2 * time.Second

// Check is a named readiness check beyond the built-in ones.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Report is the JSON body of a readiness or liveness response.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Statuses of a Report and of its checks.
const (
	StatusReady    = "ready"
	StatusNotReady = "not_ready"
	StatusAlive    = "alive"
	CheckOK        = "ok"
)

// Readiness reports whether m can serve requests: its consumer has its
// assignment and the reply consumer is positioned (m.Ready), the broker is
// reachable, and every extra check passes. It answers 200 or 503.
func Readiness(ctx context.Context, m *core.Manager, timeout time.Duration, extra []Check) (int, Report) {
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	checks := make([]Check, 0, 2+len(extra))
	checks = append(checks,
		Check{Name: "consumer", Fn: func(context.Context) error {
			if !m.Ready() {
				return errConsumerNotReady
			}
			return nil
		}},
		Check{Name: "broker", Fn: func(ctx context.Context) error { return PingBroker(ctx, m) }},
	)
	checks = append(checks, extra...)
	return runChecks(ctx, checks)
}

var (
	errConsumerNotReady  = errors.New("not started or closing")
	errBrokerUnreachable = errors.New("unreachable")
)

func runChecks(ctx context.Context, checks []Check) (int, Report) {
	rep := Report{Status: StatusReady, Checks: make(map[string]string, len(checks))}
	status := http.StatusOK
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			rep.Checks[c.Name] = err.Error()
			rep.Status = StatusNotReady
			status = http.StatusServiceUnavailable
			continue
		}
		rep.Checks[c.Name] = CheckOK
	}
	return status, rep
}

// Liveness answers 200: the process serves HTTP. It does not depend on the
// broker, so an outage does not get the service restarted.
func Liveness() (int, Report) { return http.StatusOK, Report{Status: StatusAlive} }

// PingBroker reports whether m's broker answers a metadata request. The
// error says only "unreachable": probe bodies need not show addresses.
func PingBroker(ctx context.Context, m *core.Manager) error {
	if err := m.Ping(ctx); err != nil {
		return errBrokerUnreachable
	}
	return nil
}
