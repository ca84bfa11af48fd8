package gininteg

import (
	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Middleware puts m in each request's context.Context, where Manager,
// core.FromContext(c.Request.Context()) and the request helpers find it. It
// panics when m is nil.
func Middleware(m *core.Manager) gin.HandlerFunc {
	if m == nil {
		panic("gininteg: Middleware: nil manager")
	}
	return func(c *gin.Context) {
		c.Request = c.Request.WithContext(core.NewContext(c.Request.Context(), m))
		c.Next()
	}
}

// Manager returns the Manager that Middleware put in the request's context,
// or nil when Middleware did not run for the route.
func Manager(c *gin.Context) *core.Manager {
	m, _ := core.FromContext(c.Request.Context())
	return m
}
