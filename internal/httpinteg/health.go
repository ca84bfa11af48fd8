package httpinteg

import (
	"context"
	"encoding/json"
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

// ReadinessHandler is the readiness probe of the adapters: Readiness as
// JSON. It panics when m is nil; name is the adapter's, for the message.
func ReadinessHandler(name string, m *core.Manager, opts []HealthOption) http.Handler {
	if m == nil {
		panic(name + ": Readiness: nil manager")
	}
	var cfg HealthConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, rep := Readiness(r.Context(), m, cfg.Timeout, cfg.Checks)
		writeJSON(w, status, rep)
	})
}

// LivenessHandler is the liveness probe of the adapters: Liveness as JSON.
func LivenessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		status, rep := Liveness()
		writeJSON(w, status, rep)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

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
