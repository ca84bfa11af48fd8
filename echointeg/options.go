package echointeg

import (
	"context"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// RunOption configures Run.
type RunOption interface{ applyRun(*runConfig) }

type runConfig struct {
	httpinteg.RunConfig
}

type runOptionFunc func(*runConfig)

func (f runOptionFunc) applyRun(c *runConfig) { f(c) }

// WithGracePeriod bounds how long Run waits, once shutdown began, for
// in-flight handlers before it cancels their requests' contexts (their awaits
// then end with 503). Default 20s; d <= 0 keeps it.
func WithGracePeriod(d time.Duration) RunOption {
	return runOptionFunc(func(c *runConfig) {
		if d > 0 {
			c.GracePeriod = d
		}
	})
}

// WithCloseTimeout bounds Manager.Close after HTTP drained. Default 10s;
// d <= 0 keeps it.
func WithCloseTimeout(d time.Duration) RunOption {
	return runOptionFunc(func(c *runConfig) {
		if d > 0 {
			c.CloseTimeout = d
		}
	})
}

// WithInitTimeout bounds Manager.InitConsumer before serving. Default 60s;
// d <= 0 keeps it.
func WithInitTimeout(d time.Duration) RunOption {
	return runOptionFunc(func(c *runConfig) {
		if d > 0 {
			c.InitTimeout = d
		}
	})
}

// WithSignals sets the signals that start the shutdown, SIGINT and SIGTERM by
// default. No signals: only ctx stops Run.
func WithSignals(sig ...os.Signal) RunOption {
	return runOptionFunc(func(c *runConfig) { c.Signals = sig })
}

// WithListener serves on ln instead of listening on Run's addr.
func WithListener(ln net.Listener) RunOption {
	return runOptionFunc(func(c *runConfig) { c.Listener = ln })
}

// WithOnReady calls fn with the listening address once the consumer runs and
// the server accepts requests.
func WithOnReady(fn func(addr net.Addr)) RunOption {
	return runOptionFunc(func(c *runConfig) { c.OnReady = fn })
}

// WithLogger sets the logger of Run; the default is slog.Default().
func WithLogger(l *slog.Logger) RunOption {
	return runOptionFunc(func(c *runConfig) { c.Logger = l })
}

// RequestOption configures Request, and Handler.
type RequestOption interface {
	HandlerOption
	applyRequest(*requestConfig)
}

type requestConfig struct {
	timeout time.Duration
}

type timeoutOption time.Duration

func (o timeoutOption) applyRequest(c *requestConfig) { c.timeout = time.Duration(o) }
func (o timeoutOption) applyHandler(c *handlerConfig) { c.timeout = time.Duration(o) }

// WithTimeout bounds the wait for the reply; the request's own context bounds
// it in any case. Without it, core's Config.RequestTimeout applies.
func WithTimeout(d time.Duration) RequestOption { return timeoutOption(d) }

// HandlerOption configures Handler.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	requestConfig
	data    func(echo.Context) (any, error)
	maxBody int64
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// WithEventData makes Handler build the event's data with fn instead of from
// the body or parameters. An error of fn is answered with 400 and its text.
func WithEventData(fn func(c echo.Context) (any, error)) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.data = fn })
}

// WithMaxBodyBytes bounds the request body Handler reads (413 past it).
// Default 1 MiB; n <= 0 keeps it.
func WithMaxBodyBytes(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n > 0 {
			c.maxBody = n
		}
	})
}

// HealthOption configures Readiness.
type HealthOption interface{ applyHealth(*healthConfig) }

type healthConfig struct {
	timeout time.Duration
	checks  []httpinteg.Check
}

type healthOptionFunc func(*healthConfig)

func (f healthOptionFunc) applyHealth(c *healthConfig) { f(c) }

// WithCheck adds a readiness check: the service is not ready while fn fails.
// Its error text appears in the probe's body.
func WithCheck(name string, fn func(ctx context.Context) error) HealthOption {
	return healthOptionFunc(func(c *healthConfig) {
		c.checks = append(c.checks, httpinteg.Check{Name: name, Fn: fn})
	})
}

// WithCheckTimeout bounds a readiness probe. Default 2s; d <= 0 keeps it.
func WithCheckTimeout(d time.Duration) HealthOption {
	return healthOptionFunc(func(c *healthConfig) {
		if d > 0 {
			c.timeout = d
		}
	})
}
