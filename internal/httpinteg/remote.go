package httpinteg

import (
	"encoding/json"
	"net/http"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Error codes of error replies.
const (
	// CodeInvalid: the service refused the request's data (400, or 422 with
	// the fields at fault).
	CodeInvalid = "invalid"
	// CodeRejected: the service answered with another 4xx of its choosing.
	CodeRejected = "rejected"
	// CodeRemoteError: the service answered with an error that is not the
	// client's (5xx, or no status code).
	CodeRemoteError = "remote_error"
)

// ClassifyRemote maps an error reply to an HTTP status and body. A 4xx
// status code of the reply is kept, with the service's message and fields:
// the request's data came from the HTTP client. Anything else is the
// service's failure: 502 with a fixed text.
func ClassifyRemote(re *core.RemoteError) (int, ErrorResponse) {
	code := re.StatusCode
	body := ErrorResponse{CorrelationID: re.CorrelationID, Message: re.Message, Fields: re.Fields}
	switch {
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		body.Error = CodeInvalid
		return code, body
	case code >= 400 && code < 500:
		body.Error = CodeRejected
		return code, body
	}
	return http.StatusBadGateway, ErrorResponse{Error: CodeRemoteError, Message: "the service answered with an error", CorrelationID: re.CorrelationID}
}

// remoteResponse is the response to an error reply.
func remoteResponse(re *core.RemoteError) (int, []byte) {
	status, body := ClassifyRemote(re)
	b, err := json.Marshal(body)
	if err != nil {
		return http.StatusBadGateway, []byte(`{"error":"remote_error","message":"the service answered with an error"}`)
	}
	return status, b
}
