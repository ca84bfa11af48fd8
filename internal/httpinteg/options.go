package httpinteg

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/startup"
)

// The options of the adapters' Run, Request, Call, Handler and Readiness
// are declared here once; gininteg and echointeg export them under their
// own names (type aliases, and constructors that delegate here), adding only
// what is framework-specific.

// Defaults of RunConfig.
const (
	DefaultGracePeriod  = 20 * time.Second
	DefaultCloseTimeout = 10 * time.Second
	DefaultInitTimeout  = startup.DefaultTimeout
	// DefaultReadHeaderTimeout is set on servers that have none (slowloris).
	DefaultReadHeaderTimeout = 10 * time.Second
)

// RunConfig configures Run.
type RunConfig struct {
	// Name prefixes log lines and errors: "gininteg".
	Name string
	// GracePeriod bounds the wait for in-flight HTTP handlers after shutdown
	// began; past it their requests' contexts are canceled.
	GracePeriod time.Duration
	// CloseTimeout bounds Manager.Close.
	CloseTimeout time.Duration
	// InitTimeout bounds Manager.InitConsumer.
	InitTimeout time.Duration
	// Signals start the shutdown like ctx's end does.
	Signals []os.Signal
	// Listener, when set, is served instead of listening on addr.
	Listener net.Listener
	// OnReady is called with the listening address once the consumer runs
	// and the server accepts requests.
	OnReady func(net.Addr)
	Logger  *slog.Logger
	// Server, when set, is the server Run serves with (gininteg.WithServer).
	Server *http.Server
}

// RunOption configures Run.
type RunOption func(*RunConfig)

// NewRunConfig returns the defaults for the adapter called name with opts
// applied; nil options are skipped.
func NewRunConfig(name string, opts []RunOption) RunConfig {
	c := RunConfig{
		Name:         name,
		GracePeriod:  DefaultGracePeriod,
		CloseTimeout: DefaultCloseTimeout,
		InitTimeout:  DefaultInitTimeout,
		Signals:      []os.Signal{os.Interrupt, syscall.SIGTERM},
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// positive sets *dst to d when d is positive.
func positive(dst *time.Duration, d time.Duration) {
	if d > 0 {
		*dst = d
	}
}

// WithGracePeriod is gininteg.WithGracePeriod, shared with echointeg.
func WithGracePeriod(d time.Duration) RunOption {
	return func(c *RunConfig) { positive(&c.GracePeriod, d) }
}

// WithCloseTimeout is gininteg.WithCloseTimeout, shared with echointeg.
func WithCloseTimeout(d time.Duration) RunOption {
	return func(c *RunConfig) { positive(&c.CloseTimeout, d) }
}

// WithInitTimeout is gininteg.WithInitTimeout, shared with echointeg.
func WithInitTimeout(d time.Duration) RunOption {
	return func(c *RunConfig) { positive(&c.InitTimeout, d) }
}

// WithSignals is gininteg.WithSignals, shared with echointeg.
func WithSignals(sig ...os.Signal) RunOption {
	return func(c *RunConfig) { c.Signals = sig }
}

// WithListener is gininteg.WithListener, shared with echointeg.
func WithListener(ln net.Listener) RunOption {
	return func(c *RunConfig) { c.Listener = ln }
}

// WithOnReady is gininteg.WithOnReady, shared with echointeg.
func WithOnReady(fn func(addr net.Addr)) RunOption {
	return func(c *RunConfig) { c.OnReady = fn }
}

// WithLogger is gininteg.WithLogger, shared with echointeg.
func WithLogger(l *slog.Logger) RunOption {
	return func(c *RunConfig) { c.Logger = l }
}

// WithServer is gininteg.WithServer, shared with echointeg.
func WithServer(srv *http.Server) RunOption {
	return func(c *RunConfig) { c.Server = srv }
}

// RequestConfig configures Request and Call.
type RequestConfig struct {
	// Timeout bounds the wait for the reply when positive.
	Timeout time.Duration
}

// HandlerConfig configures a Handler route of an adapter whose handlers
// take a C (*gin.Context, echo.Context).
type HandlerConfig[C any] struct {
	RequestConfig
	// Data, when set, builds the event's data instead of EventData.
	Data func(C) (any, error)
	// MaxBody bounds the request body EventData reads.
	MaxBody int64
}

// HandlerOption configures a Handler route.
type HandlerOption[C any] interface {
	applyHandler(*HandlerConfig[C])
}

// RequestOption configures Request and Call, and a Handler route.
type RequestOption[C any] interface {
	HandlerOption[C]
	applyRequest(*RequestConfig)
}

// NewRequestConfig applies opts; nil options are skipped.
func NewRequestConfig[C any](opts []RequestOption[C]) RequestConfig {
	var c RequestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&c)
		}
	}
	return c
}

// NewHandlerConfig applies opts to the defaults; nil options are skipped.
func NewHandlerConfig[C any](opts []HandlerOption[C]) HandlerConfig[C] {
	c := HandlerConfig[C]{MaxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		if o != nil {
			o.applyHandler(&c)
		}
	}
	return c
}

type timeoutOption[C any] time.Duration

func (o timeoutOption[C]) applyRequest(c *RequestConfig)    { c.Timeout = time.Duration(o) }
func (o timeoutOption[C]) applyHandler(c *HandlerConfig[C]) { c.Timeout = time.Duration(o) }

// WithTimeout is gininteg.WithTimeout, shared with echointeg.
func WithTimeout[C any](d time.Duration) RequestOption[C] { return timeoutOption[C](d) }

type handlerOptionFunc[C any] func(*HandlerConfig[C])

func (f handlerOptionFunc[C]) applyHandler(c *HandlerConfig[C]) { f(c) }

// WithEventData is gininteg.WithEventData, shared with echointeg.
func WithEventData[C any](fn func(C) (any, error)) HandlerOption[C] {
	return handlerOptionFunc[C](func(c *HandlerConfig[C]) { c.Data = fn })
}

// WithMaxBodyBytes is gininteg.WithMaxBodyBytes, shared with echointeg.
func WithMaxBodyBytes[C any](n int64) HandlerOption[C] {
	return handlerOptionFunc[C](func(c *HandlerConfig[C]) {
		if n > 0 {
			c.MaxBody = n
		}
	})
}

// HealthConfig configures Readiness.
type HealthConfig struct {
	// Timeout bounds a probe.
	Timeout time.Duration
	// Checks run after the built-in ones.
	Checks []Check
}

// HealthOption configures Readiness.
type HealthOption func(*HealthConfig)

// WithCheck is gininteg.WithCheck, shared with echointeg.
func WithCheck(name string, fn func(ctx context.Context) error) HealthOption {
	return func(c *HealthConfig) { c.Checks = append(c.Checks, Check{Name: name, Fn: fn}) }
}

// WithCheckTimeout is gininteg.WithCheckTimeout, shared with echointeg.
func WithCheckTimeout(d time.Duration) HealthOption {
	return func(c *HealthConfig) { positive(&c.Timeout, d) }
}
