package gininteg

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/httpinteg"
)

// StatusField is the member of a reply's data that sets the HTTP status of
// the response Handler and Respond write; see the package documentation.
const StatusField = "http_status"

// HeaderCorrelationID is the response header carrying the correlation ID of
// the event a request became.
const HeaderCorrelationID = "X-Correlation-ID"

// ErrorResponse is the JSON body of the error responses the helpers write.
// Error is a code ("reply_timeout", "closed", ...; see the package
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
// disconnects ends the wait and frees the waiter. On error it aborts c with
// StatusCode(err) and an ErrorResponse, adds err to c.Errors, and returns err,
// like c.Bind does with binding errors:
//
//	rep, err := gininteg.Request(c, "billing", ev)
//	if err != nil {
//		return
//	}
func Request(c *gin.Context, topic string, ev *core.EventObject, opts ...RequestOption) (*core.EventObject, error) {
	var cfg requestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&cfg)
		}
	}
	rep, err := httpinteg.Request(c.Request.Context(), topic, ev, cfg.timeout)
	if err != nil {
		status, body := httpinteg.Classify(err)
		if ev != nil {
			body.CorrelationID = ev.CorrelationID
			c.Header(HeaderCorrelationID, ev.CorrelationID)
		}
		abort(c, status, body, err)
		return nil, err
	}
	return rep, nil
}

func abort(c *gin.Context, status int, body httpinteg.ErrorResponse, err error) {
	_ = c.Error(err)
	c.AbortWithStatusJSON(status, ErrorResponse(body))
}

// Respond answers with rep's data as JSON and the status it carries in
// StatusField (200 when none), with the correlation ID in HeaderCorrelationID.
func Respond(c *gin.Context, rep *core.EventObject) {
	if rep == nil {
		abort(c, http.StatusBadGateway, httpinteg.ErrorResponse{Error: httpinteg.CodeBrokerError, Message: "no reply"},
			errors.New("gininteg: respond: nil reply"))
		return
	}
	c.Header(HeaderCorrelationID, rep.CorrelationID)
	status, body := httpinteg.Response(rep)
	if body == nil {
		c.Status(status)
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// Handler returns a handler that turns the HTTP request into an event named
// event, sends it to topic with Request, and answers with Respond. The event's
// data is the JSON body when there is one, else an object of the query and
// path parameters (a path parameter wins over a query one of the same name;
// a query parameter given once is a string, more often a list of strings).
// WithEventData replaces that mapping. A body that is not JSON gets 400, one
// too large 413. Handler panics when topic or event is empty.
func Handler(topic, event string, opts ...HandlerOption) gin.HandlerFunc {
	if topic == "" || event == "" {
		panic("gininteg: Handler: empty topic or event")
	}
	cfg := handlerConfig{maxBody: httpinteg.DefaultMaxBodyBytes}
	for _, o := range opts {
		if o != nil {
			o.applyHandler(&cfg)
		}
	}
	return func(c *gin.Context) {
		var data any
		var err error
		if cfg.data != nil {
			data, err = cfg.data(c)
		} else {
			data, err = httpinteg.EventData(c.Writer, c.Request, cfg.maxBody, params(c.Params))
		}
		var ev *core.EventObject
		if err == nil {
			ev, err = core.NewEventObject(event, data)
		}
		if err != nil {
			status, body := httpinteg.BadRequest(err)
			abort(c, status, body, err)
			return
		}
		rep, err := Request(c, topic, ev, timeoutOption(cfg.timeout))
		if err != nil {
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
