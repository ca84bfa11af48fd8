package echointeg

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// StatusField is the member of a reply's data that sets the HTTP status of
// the response Handler and Respond write; see the package documentation.
const StatusField = "http_status"

// HeaderCorrelationID is the response header carrying the correlation ID of
// the event a request became.
const HeaderCorrelationID = "X-Correlation-ID"

// ErrorResponse is the JSON body of the errors the helpers return, as the
// Message of an *echo.HTTPError, which Echo's default error handler writes as
// is. Error is a code ("reply_timeout", "closed", ...; see the package
// documentation), Message a fixed text for people.
type ErrorResponse struct {
	Error         string            `json:"error"`
	Message       string            `json:"message"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Fields        []core.FieldError `json:"fields,omitempty"` // error replies: the fields that failed validation
}

// StatusCode is the HTTP status Request answers err with: 504 for a reply
// timeout, 503 when the manager is closed, not ready or overloaded or the
// request was canceled, 502 for other broker errors.
func StatusCode(err error) int {
	status, _ := httpinteg.Classify(err)
	return status
}

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
	var cfg requestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&cfg)
		}
	}
	rep, err := httpinteg.Request(c.Request().Context(), topic, ev, cfg.timeout)
	if err != nil {
		status, body := httpinteg.Classify(err)
		if ev != nil {
			body.CorrelationID = ev.CorrelationID
			c.Response().Header().Set(HeaderCorrelationID, ev.CorrelationID)
		}
		return nil, httpError(status, body, err)
	}
	return rep, nil
}

func httpError(status int, body httpinteg.ErrorResponse, err error) *echo.HTTPError {
	return echo.NewHTTPError(status, ErrorResponse(body)).SetInternal(err)
}

// Respond answers with rep's data as JSON and the status it carries in
// StatusField (200 when none), with the correlation ID in HeaderCorrelationID.
func Respond(c echo.Context, rep *core.EventObject) error {
	if rep == nil {
		return httpError(http.StatusBadGateway, httpinteg.ErrorResponse{Error: httpinteg.CodeBrokerError, Message: "no reply"},
			errors.New("echointeg: respond: nil reply"))
	}
	c.Response().Header().Set(HeaderCorrelationID, rep.CorrelationID)
	status, body := httpinteg.Response(rep)
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
	if topic == "" || event == "" {
		panic("echointeg: Handler: empty topic or event")
	}
	cfg := handlerConfig{maxBody: httpinteg.DefaultMaxBodyBytes}
	for _, o := range opts {
		if o != nil {
			o.applyHandler(&cfg)
		}
	}
	return func(c echo.Context) error {
		var data any
		var err error
		if cfg.data != nil {
			data, err = cfg.data(c)
		} else {
			data, err = httpinteg.EventData(c.Response(), c.Request(), cfg.maxBody, params(c))
		}
		var ev *core.EventObject
		if err == nil {
			ev, err = core.NewEventObject(event, data)
		}
		if err != nil {
			status, body := httpinteg.BadRequest(err)
			return httpError(status, body, err)
		}
		rep, err := Request(c, topic, ev, timeoutOption(cfg.timeout))
		if err != nil {
			return err
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
