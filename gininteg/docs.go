package gininteg

import (
	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
)

// Docs serves the AsyncAPI document of m's service on r, built from its
// routers (see package asyncapi): GET /asyncapi.json, and GET /docs, an HTML
// page of its operations with their payload and reply schemas and examples,
// everything embedded (no CDN). asyncapi.WithTryIt adds a "try it" form per
// request/reply operation (POST /docs/try), off by default: it lets HTTP
// clients send requests. Nothing is served unless Docs is called.
//
//	gininteg.Docs(r, m, asyncapi.WithInfo(asyncapi.Info{Title: "Orders", Version: "1.4.0"}))
func Docs(r gin.IRoutes, m *core.Manager, opts ...asyncapi.Option) {
	d := asyncapi.NewDocs(m, opts...)
	h := gin.WrapH(d)
	for _, rt := range d.Routes() {
		r.Handle(rt.Method, rt.Path, h)
	}
}
