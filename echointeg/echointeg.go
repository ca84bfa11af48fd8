package echointeg

import (
	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// MiddlewareOption configures Middleware.
type MiddlewareOption interface{ applyMiddleware(*middlewareConfig) }

type middlewareConfig struct {
	skipper func(echo.Context) bool
}

type middlewareOptionFunc func(*middlewareConfig)

func (f middlewareOptionFunc) applyMiddleware(c *middlewareConfig) { f(c) }

// WithSkipper makes Middleware leave the requests for which skip returns true
// alone. A middleware.Skipper fits.
func WithSkipper(skip func(c echo.Context) bool) MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) { c.skipper = skip })
}

// Middleware puts m in each request's context.Context, where Manager,
// core.FromContext(c.Request().Context()) and the request helpers find it. It
// panics when m is nil.
func Middleware(m *core.Manager, opts ...MiddlewareOption) echo.MiddlewareFunc {
	if m == nil {
		panic("echointeg: Middleware: nil manager")
	}
	var cfg middlewareConfig
	for _, o := range opts {
		if o != nil {
			o.applyMiddleware(&cfg)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.skipper != nil && cfg.skipper(c) {
				return next(c)
			}
			r := c.Request()
			c.SetRequest(r.WithContext(core.NewContext(r.Context(), m)))
			return next(c)
		}
	}
}

// Manager returns the Manager that Middleware put in the request's context,
// or nil when Middleware did not run for the request.
func Manager(c echo.Context) *core.Manager {
	m, _ := core.FromContext(c.Request().Context())
	return m
}
