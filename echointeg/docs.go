package echointeg

import (
	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
)

// Router is where Docs registers its routes: an *echo.Echo or an *echo.Group.
type Router interface {
	Add(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) *echo.Route
}

// Docs serves the AsyncAPI document of m's service on r, built from its
// routers (see package asyncapi): GET /asyncapi.json, and GET /docs, an HTML
// page of its operations with their payload and reply schemas and examples,
// everything embedded (no CDN). asyncapi.WithTryIt adds a "try it" form per
// request/reply operation (POST /docs/try), off by default: it lets HTTP
// clients send requests. Nothing is served unless Docs is called.
//
//	echointeg.Docs(e, m, asyncapi.WithInfo(asyncapi.Info{Title: "Orders", Version: "1.4.0"}))
func Docs(r Router, m *core.Manager, opts ...asyncapi.Option) {
	d := asyncapi.NewDocs(m, opts...)
	h := echo.WrapHandler(d)
	for _, rt := range d.Routes() {
		r.Add(rt.Method, rt.Path, h)
	}
}
