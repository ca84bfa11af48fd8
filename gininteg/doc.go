// Package gininteg connects Gin services to kafka-broker: a handler produces
// an event and awaits its reply inside the HTTP request, and the consumer
// starts and stops with the server.
//
// # Manager in every handler
//
// Middleware puts the *core.Manager in each request's context.Context, so
// Manager(c) and core.FromContext(c.Request.Context()) both return it, and so
// does any net/http code the request reaches.
//
// # Lifecycle
//
// Run listens and serves at once, starts the consumer (InitConsumer,
// bounded by WithInitTimeout) meanwhile, and on ctx's end or SIGINT/SIGTERM
// stops accepting, waits for in-flight handlers up to a grace period
// (WithGracePeriod; past it their requests are canceled and answer 503), and
// only then closes the Manager. Liveness answers from the moment the port is
// open, Readiness once the consumer runs; a consumer that cannot start in
// time (an unreachable broker) ends Run with an error naming the brokers.
//
// # Awaiting replies
//
// Request sends an event and awaits the reply bounded by the HTTP request's
// context: a client that disconnects ends the wait and frees the waiter. On
// error it aborts the request with a JSON ErrorResponse:
//
//	status  error           cause
//	504     reply_timeout   no reply before the deadline (core.ErrReplyTimeout)
//	504     timeout         the broker did not acknowledge before the deadline
//	503     closed          the Manager is closed or closing (core.ErrClosed)
//	503     not_ready       InitConsumer has not run (core.ErrNotStarted)
//	503     overloaded      too many pending requests (core.ErrTooManyPending)
//	503     canceled        the request's context was canceled (client gone, shutdown)
//	422     invalid         the service refused the data: "fields" say which (core.RemoteError)
//	4xx     invalid/rejected another 4xx of the service's error reply (core.ErrorReply)
//	502     remote_error    the service answered with an error of its own (5xx)
//	502     broker_error    any other broker error
//	500     no_manager      Middleware did not run for the route
//
// Handler builds a whole route from a topic and an event name: the JSON body
// (or, without one, the path and query parameters) becomes the event's data,
// and the reply's data is the response.
//
// # Status convention
//
// A reply sets the HTTP status of the response with an integer member
// "http_status" (StatusField) of its data, from 200 to 599; Handler and
// Respond remove the member from the body. Without it the status is 200. A 204
// or 304 has no body. A responder answering "not found":
//
//	m.Reply(ctx, req, map[string]any{"http_status": 404, "error": "no such order"})
//
// # Typed calls
//
// Call sends a request and decodes the reply's data into a type (core.Call);
// its errors answer as Request's, error replies as the table above says.
//
// # API docs
//
// Docs serves the AsyncAPI 3.0.0 document of the service's routers at GET
// /asyncapi.json and an HTML page of it at GET /docs (package asyncapi),
// with a "try it" form when asyncapi.WithTryIt is given. Nothing is served
// unless Docs is called.
//
// # Health
//
// Readiness answers 200 only when the consumer has its assignment, the reply
// consumer is positioned and the broker is reachable; Liveness answers 200
// while the process serves HTTP. The correlation ID of the event a request
// became is in the HTTPHeaderCorrelationID response header
// ("X-Correlation-ID"; core.HeaderCorrelationID is the Kafka header).
package gininteg
