// Package httpinteg holds what the Gin and Echo adapters (gininteg,
// echointeg) share and that does not depend on either framework: mapping
// errors to HTTP responses, turning a request into event data and a reply
// into a response, readiness checks, and the lifecycle runner that starts the
// consumer, serves HTTP and drains before closing the manager.
//
// Each adapter translates these into its framework's idiom; this package
// knows only net/http and core.
package httpinteg
