package httpinteg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// HTTPHeaderCorrelationID is the HTTP response header that carries the
// correlation ID of the event a request became. It is not the Kafka header
// core.HeaderCorrelationID ("kafka_correlationId").
const HTTPHeaderCorrelationID = "X-Correlation-ID"

// StatusField is the member of a reply's data that sets the HTTP status of
// the response.
const StatusField = "http_status"

// ContentTypeJSON is the Content-Type of the responses the helpers write.
const ContentTypeJSON = "application/json; charset=utf-8"

// DefaultMaxBodyBytes bounds a request body turned into event data, like
// core's default bound on record values.
const DefaultMaxBodyBytes = core.DefaultMaxRecordBytes

// Request sends ev to topic with the Manager carried by ctx and awaits the
// reply until ctx ends, or cfg.Timeout when it is positive.
func Request(ctx context.Context, topic string, ev *core.EventObject, cfg RequestConfig) (*core.EventObject, *Failure) {
	var id string
	if ev != nil {
		id = ev.CorrelationID
	}
	m, ok := core.FromContext(ctx)
	if !ok {
		return nil, failure(ErrNoManager, id)
	}
	ctx, cancel := cfg.bound(ctx)
	defer cancel()
	rep, err := m.Request(ctx, topic, ev)
	if err != nil {
		return nil, failure(err, id)
	}
	return rep, nil
}

// Call is core.Call with the Manager carried by ctx, its wait bounded by
// cfg.Timeout when positive. It returns the correlation ID of the reply,
// error replies included, for the response header.
func Call[Out any](ctx context.Context, topic, event string, in any, cfg RequestConfig) (Out, string, *Failure) {
	m, ok := core.FromContext(ctx)
	if !ok {
		var zero Out
		return zero, "", failure(ErrNoManager, "")
	}
	ctx, cancel := cfg.bound(ctx)
	defer cancel()
	out, rep, err := core.Call[Out](ctx, m, topic, event, in)
	var id string
	if rep != nil {
		id = rep.CorrelationID
	}
	if err != nil {
		return out, id, failure(err, "")
	}
	return out, id, nil
}

// Route runs a Handler route up to its reply: it turns the HTTP request r
// (with c, the framework's context, for cfg.Data) into an event named event,
// sends it to topic and awaits the reply. The event's data is what cfg.Data
// returns, else the request's (EventData). A failure to build the event
// answers 400 or 413, one of the request as Request says.
func Route[C any](c C, w http.ResponseWriter, r *http.Request, path []Param, topic, event string, cfg *HandlerConfig[C]) (*core.EventObject, *Failure) {
	var data any
	var err error
	if cfg.Data != nil {
		data, err = cfg.Data(c)
	} else {
		data, err = EventData(w, r, cfg.MaxBody, path)
	}
	var ev *core.EventObject
	if err == nil {
		ev, err = core.NewEventObject(event, data)
	}
	if err != nil {
		status, body := BadRequest(err)
		return nil, &Failure{Status: status, Body: body, Err: err}
	}
	return Request(r.Context(), topic, ev, cfg.RequestConfig)
}

// CheckRoute panics, at setup like http.ServeMux, when a Handler route is
// given an empty topic or event; name is the adapter's.
func CheckRoute(name, topic, event string) {
	if topic == "" || event == "" {
		panic(name + ": Handler: empty topic or event")
	}
}

// Param is a path parameter of a route.
type Param struct{ Key, Value string }

// EventData is the data of the event a request becomes: its body when it has
// one (it must be JSON, at most maxBytes), else an object of the query and
// path parameters, a path parameter winning over a query one of the same
// name. A query parameter given once is a string, given more often a list.
func EventData(w http.ResponseWriter, r *http.Request, maxBytes int64, path []Param) (json.RawMessage, error) {
	if r.Body != nil && r.Body != http.NoBody {
		if maxBytes <= 0 {
			maxBytes = DefaultMaxBodyBytes
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			return nil, err
		}
		if body = bytes.TrimSpace(body); len(body) > 0 {
			if !json.Valid(body) {
				return nil, ErrInvalidBody
			}
			return body, nil
		}
	}
	q := r.URL.Query()
	params := make(map[string]any, len(q)+len(path))
	for k, vs := range q {
		if len(vs) == 1 {
			params[k] = vs[0]
		} else {
			params[k] = vs
		}
	}
	for _, p := range path {
		params[p.Key] = p.Value
	}
	return json.Marshal(params)
}

// errNoReply is the cause of the failure answering a nil reply.
var errNoReply = errors.New("kafka-broker: respond: nil reply")

// Response is the HTTP status and body answering a reply: the reply's data,
// with the status taken from its StatusField member (removed from the body)
// when that is an integer from 200 to 599, else 200. A 204 or 304 has no body.
// An error reply is answered as ClassifyRemote says; a nil reply is a 502
// failure.
func Response(rep *core.EventObject) (int, []byte, *Failure) {
	if rep == nil {
		return 0, nil, &Failure{Status: http.StatusBadGateway,
			Body: ErrorResponse{Error: CodeBrokerError, Message: "no reply"}, Err: errNoReply}
	}
	if re := rep.RemoteError(); re != nil {
		status, body := remoteResponse(re)
		return status, body, nil
	}
	status, body := splitStatus(rep.Data)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return status, nil, nil
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return status, body, nil
}

func splitStatus(data json.RawMessage) (int, []byte) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' || !bytes.Contains(trimmed, []byte(`"`+StatusField+`"`)) {
		return http.StatusOK, data
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return http.StatusOK, data
	}
	var status int
	if err := json.Unmarshal(obj[StatusField], &status); err != nil || status < 200 || status > 599 {
		return http.StatusOK, data
	}
	delete(obj, StatusField)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the responder's text as it wrote it
	if err := enc.Encode(obj); err != nil {
		return http.StatusOK, data
	}
	return status, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// bound returns ctx bounded by c.Timeout when it is positive.
func (c RequestConfig) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.Timeout > 0 {
		return context.WithTimeout(ctx, c.Timeout)
	}
	return ctx, func() {}
}
