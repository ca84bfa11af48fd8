package httpinteg

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultMaxBodyBytes bounds a request body turned into event data, like
// core's default bound on record values.
const DefaultMaxBodyBytes = core.DefaultMaxRecordBytes

// Request sends ev to topic with the Manager carried by ctx and awaits the
// reply until ctx ends, or timeout when it is positive.
func Request(ctx context.Context, topic string, ev *core.EventObject, timeout time.Duration) (*core.EventObject, error) {
	m, ok := core.FromContext(ctx)
	if !ok {
		return nil, ErrNoManager
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return m.Request(ctx, topic, ev)
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

// StatusField is the member of a reply's data that sets the HTTP status of
// the response.
const StatusField = "http_status"

// Response is the HTTP status and body answering a reply: the reply's data,
// with the status taken from its StatusField member (removed from the body)
// when that is an integer from 200 to 599, else 200. A 204 or 304 has no body.
// An error reply is answered as ClassifyRemote says.
func Response(rep *core.EventObject) (int, []byte) {
	if re := rep.RemoteError(); re != nil {
		return remoteResponse(re)
	}
	status, body := splitStatus(rep.Data)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return status, nil
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return status, body
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

// Call is core.Call with the Manager carried by ctx, its wait bounded by
// timeout when positive. The reply is returned with an error reply too.
func Call[Out any](ctx context.Context, topic, event string, in any, timeout time.Duration) (Out, *core.EventObject, error) {
	m, ok := core.FromContext(ctx)
	if !ok {
		var zero Out
		return zero, nil, ErrNoManager
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return core.Call[Out](ctx, m, topic, event, in)
}
