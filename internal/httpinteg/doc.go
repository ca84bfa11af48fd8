// Package httpinteg holds what the Gin and Echo adapters (gininteg,
// echointeg) share and that does not depend on either framework: mapping
// errors to HTTP responses, turning a request into event data and a reply
// into a response, the readiness and liveness probes, the options of all of
// these, and the lifecycle runner that serves HTTP, starts the consumer
// meanwhile and drains before closing the manager.
//
// Each adapter exports the options under its own name (type aliases and
// one-line constructors) and translates the rest into its framework's idiom:
// a *Failure becomes an aborted *gin.Context or an *echo.HTTPError. This
// package knows only net/http and core.
package httpinteg
