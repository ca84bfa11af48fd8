package echointeg

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// StatusField is the member of a reply's data that sets the HTTP status of
// the response Handler and Respond write; see the package documentation.
const StatusField = httpinteg.StatusField

// HTTPHeaderCorrelationID is the HTTP response header carrying the
// correlation ID of the event a request became ("X-Correlation-ID"). It is
// not core.HeaderCorrelationID, the Kafka record header.
const HTTPHeaderCorrelationID = httpinteg.HTTPHeaderCorrelationID

// HeaderCorrelationID is the former name of HTTPHeaderCorrelationID.
//
// Deprecated: use HTTPHeaderCorrelationID; core.HeaderCorrelationID is the
// Kafka header of the same role.
const HeaderCorrelationID = HTTPHeaderCorrelationID

// ErrorResponse is the JSON body of the errors the helpers return, as the
// Message of an *echo.HTTPError, which Echo's default error handler writes as
// is. Error is a code ("reply_timeout", "closed", ...; see the package
// documentation), Message a fixed text for people, Fields the fields that
// failed validation in an error reply.
type ErrorResponse = httpinteg.ErrorResponse

// StatusCode is the HTTP status Request answers err with: 504 for a reply
// timeout, 503 when the manager is closed, not ready or overloaded or the
// request was canceled, 502 for other broker errors.
func StatusCode(err error) int { return httpinteg.StatusCode(err) }

// RequestOption configures Request, Call and Handler.
type RequestOption = httpinteg.RequestOption[echo.Context]

// HandlerOption configures Handler.
type HandlerOption = httpinteg.HandlerOption[echo.Context]

// WithTimeout bounds the wait for the reply; the request's own context bounds
// it in any case. Without it, core's Config.RequestTimeout applies.
func WithTimeout(d time.Duration) RequestOption { return httpinteg.WithTimeout[echo.Context](d) }

// WithEventData makes Handler build the event's data with fn instead of from
// the body or parameters. An error of fn is answered with 400 and its text.
func WithEventData(fn func(c echo.Context) (any, error)) HandlerOption {
	return httpinteg.WithEventData(fn)
}

// WithMaxBodyBytes bounds the request body Handler reads (413 past it).
// Default 1 MiB; n <= 0 keeps it.
func WithMaxBodyBytes(n int64) HandlerOption { return httpinteg.WithMaxBodyBytes[echo.Context](n) }

// Request sends ev to topic with the request's Manager (see Middleware) and
// awaits the reply, bounded by the HTTP request's context: a client that
// disconnects ends the wait and frees the waiter. Its error is an
// *echo.HTTPError with StatusCode(err), an ErrorResponse as Message and the
// cause as Internal (errors.Is sees it), for the handler to return:
//
//	rep, err := echointeg.Request(c, "billing", ev)
//	if err != nil {
//		return err
//	}
func Request(c echo.Context, topic string, ev *core.EventObject, opts ...RequestOption) (*core.EventObject, error) {
	rep, f := httpinteg.Request(c.Request().Context(), topic, ev, httpinteg.NewRequestConfig(opts))
	if f != nil {
		return nil, httpError(c, f)
	}
	return rep, nil
}

// httpError sets the correlation ID header of f and returns it as the error
// Echo's error handler answers.
func httpError(c echo.Context, f *httpinteg.Failure) *echo.HTTPError {
	if id := f.Body.CorrelationID; id != "" {
		c.Response().Header().Set(HTTPHeaderCorrelationID, id)
	}
	return echo.NewHTTPError(f.Status, f.Body).SetInternal(f.Err)
}

// Respond answers with rep's data as JSON and the status it carries in
// StatusField (200 when none), with the correlation ID in
// HTTPHeaderCorrelationID.
func Respond(c echo.Context, rep *core.EventObject) error {
	status, body, f := httpinteg.Response(rep)
	if f != nil {
		return httpError(c, f)
	}
	c.Response().Header().Set(HTTPHeaderCorrelationID, rep.CorrelationID)
	if body == nil {
		return c.NoContent(status)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, body)
}

// Handler returns a handler that turns the HTTP request into an event named
// event, sends it to topic with Request, and answers with Respond. The event's
// data is the JSON body when there is one, else an object of the query and
// path parameters (a path parameter wins over a query one of the same name;
// a query parameter given once is a string, more often a list of strings).
// WithEventData replaces that mapping. A body that is not JSON gets 400, one
// too large 413. Handler panics when topic or event is empty.
func Handler(topic, event string, opts ...HandlerOption) echo.HandlerFunc {
	httpinteg.CheckRoute("echointeg", topic, event)
	cfg := httpinteg.NewHandlerConfig(opts)
	return func(c echo.Context) error {
		rep, f := httpinteg.Route(c, c.Response(), c.Request(), params(c), topic, event, &cfg)
		if f != nil {
			return httpError(c, f)
		}
		return Respond(c, rep)
	}
}

func params(c echo.Context) []httpinteg.Param {
	names, values := c.ParamNames(), c.ParamValues()
	if len(names) == 0 {
		return nil
	}
	out := make([]httpinteg.Param, 0, len(names))
	for i, n := range names {
		if i < len(values) {
			out = append(out, httpinteg.Param{Key: n, Value: values[i]})
		}
	}
	return out
}
