package gininteg

import (
	"time"

	"github.com/gin-gonic/gin"

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

// ErrorResponse is the JSON body of the error responses the helpers write.
// Error is a code ("reply_timeout", "closed", ...; see the package
// documentation), Message a fixed text for people, Fields the fields that
// failed validation in an error reply.
type ErrorResponse = httpinteg.ErrorResponse

// StatusCode is the HTTP status Request answers err with: 504 for a reply
// timeout, 503 when the manager is closed, not ready or overloaded or the
// request was canceled, 502 for other broker errors.
func StatusCode(err error) int { return httpinteg.StatusCode(err) }

// RequestOption configures Request, Call and Handler.
type RequestOption = httpinteg.RequestOption[*gin.Context]

// HandlerOption configures Handler.
type HandlerOption = httpinteg.HandlerOption[*gin.Context]

// WithTimeout bounds the wait for the reply; the request's own context bounds
// it in any case. Without it, core's Config.RequestTimeout applies.
func WithTimeout(d time.Duration) RequestOption { return httpinteg.WithTimeout[*gin.Context](d) }

// WithEventData makes Handler build the event's data with fn instead of from
// the body or parameters. An error of fn is answered with 400 and its text.
func WithEventData(fn func(c *gin.Context) (any, error)) HandlerOption {
	return httpinteg.WithEventData(fn)
}

// WithMaxBodyBytes bounds the request body Handler reads (413 past it).
// Default 1 MiB; n <= 0 keeps it.
func WithMaxBodyBytes(n int64) HandlerOption { return httpinteg.WithMaxBodyBytes[*gin.Context](n) }

// Request sends ev to topic with the request's Manager (see Middleware) and
// awaits the reply, bounded by the HTTP request's context: a client that
// disconnects ends the wait and frees the waiter. On error it aborts c with
// StatusCode(err) and an ErrorResponse, adds err to c.Errors, and returns err,
// like c.Bind does with binding errors:
//
//	rep, err := gininteg.Request(c, "billing", ev)
//	if err != nil {
//		return
//	}
func Request(c *gin.Context, topic string, ev *core.EventObject, opts ...RequestOption) (*core.EventObject, error) {
	rep, f := httpinteg.Request(c.Request.Context(), topic, ev, httpinteg.NewRequestConfig(opts))
	if f != nil {
		abort(c, f)
		return nil, f.Err
	}
	return rep, nil
}

// abort answers c with f and adds its cause to c.Errors.
func abort(c *gin.Context, f *httpinteg.Failure) {
	if id := f.Body.CorrelationID; id != "" {
		c.Header(HTTPHeaderCorrelationID, id)
	}
	_ = c.Error(f.Err)
	c.AbortWithStatusJSON(f.Status, f.Body)
}

// Respond answers with rep's data as JSON and the status it carries in
// StatusField (200 when none), with the correlation ID in
// HTTPHeaderCorrelationID.
func Respond(c *gin.Context, rep *core.EventObject) {
	status, body, f := httpinteg.Response(rep)
	if f != nil {
		abort(c, f)
		return
	}
	c.Header(HTTPHeaderCorrelationID, rep.CorrelationID)
	if body == nil {
		c.Status(status)
		return
	}
	c.Data(status, httpinteg.ContentTypeJSON, body)
}

// Handler returns a handler that turns the HTTP request into an event named
// event, sends it to topic with Request, and answers with Respond. The event's
// data is the JSON body when there is one, else an object of the query and
// path parameters (a path parameter wins over a query one of the same name;
// a query parameter given once is a string, more often a list of strings).
// WithEventData replaces that mapping. A body that is not JSON gets 400, one
// too large 413. Handler panics when topic or event is empty.
func Handler(topic, event string, opts ...HandlerOption) gin.HandlerFunc {
	httpinteg.CheckRoute("gininteg", topic, event)
	cfg := httpinteg.NewHandlerConfig(opts)
	return func(c *gin.Context) {
		rep, f := httpinteg.Route(c, c.Writer, c.Request, params(c.Params), topic, event, &cfg)
		if f != nil {
			abort(c, f)
			return
		}
		Respond(c, rep)
	}
}

func params(ps gin.Params) []httpinteg.Param {
	if len(ps) == 0 {
		return nil
	}
	out := make([]httpinteg.Param, len(ps))
	for i, p := range ps {
		out[i] = httpinteg.Param(p)
	}
	return out
}
