package gininteg

import (
	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Call sends a request with data in to topic (event names the handler) with
// the request's Manager, awaits the reply bounded by the HTTP request's
// context, and decodes its data into Out (core.Call). On error it aborts c
// like Request does; an error reply (a *core.RemoteError) answers with its
// 4xx status, 422 with the fields that failed validation, and 502 for a
// service's failure:
//
//	order, err := gininteg.Call[Order](c, "orders", "orders.create", in)
//	if err != nil {
//		return
//	}
//	c.JSON(http.StatusCreated, order)
func Call[Out any](c *gin.Context, topic, event string, in any, opts ...RequestOption) (Out, error) {
	out, id, f := httpinteg.Call[Out](c.Request.Context(), topic, event, in, httpinteg.NewRequestConfig(opts))
	if id != "" {
		c.Header(HTTPHeaderCorrelationID, id)
	}
	if f != nil {
		abort(c, f)
		return out, f.Err
	}
	return out, nil
}
