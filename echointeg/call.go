package echointeg

import (
	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// Call sends a request with data in to topic (event names the handler) with
// the request's Manager, awaits the reply bounded by the HTTP request's
// context, and decodes its data into Out (core.Call). Its error is an
// *echo.HTTPError like Request's; an error reply (a *core.RemoteError) has
// its 4xx status, 422 with the fields that failed validation, and 502 for a
// service's failure:
//
//	order, err := echointeg.Call[Order](c, "orders", "orders.create", in)
//	if err != nil {
//		return err
//	}
//	return c.JSON(http.StatusCreated, order)
func Call[Out any](c echo.Context, topic, event string, in any, opts ...RequestOption) (Out, error) {
	out, id, f := httpinteg.Call[Out](c.Request().Context(), topic, event, in, httpinteg.NewRequestConfig(opts))
	if id != "" {
		c.Response().Header().Set(HTTPHeaderCorrelationID, id)
	}
	if f != nil {
		return out, httpError(c, f)
	}
	return out, nil
}
