// Package fxmodule wires a core.Manager into a go.uber.org/fx application:
// the manager is injected wherever it is needed, routers contributed through
// a value group receive the consumed events, and the consumer starts and
// stops with the application.
//
// Include Module, supply a core.Config (or set the KAFKA_* variables read by
// core.ConfigFromEnv), and contribute routers with AsRouter:
//
//	fx.New(
//		fx.Supply(cfg),
//		fxmodule.Module,
//		fx.Provide(fxmodule.AsRouter(newOrdersRouter)),
//	).Run()
//
// Start fails with the reason when the configuration is invalid or the
// broker cannot be reached (within 30s at most, less when fx's start timeout
// is shorter), and leaves nothing running. Stop closes the manager after
// every component that depends on it has stopped, so an HTTP server whose
// handlers await replies drains first.
//
// Components that depend on the manager start after its consumer, so an HTTP
// server of the application does not answer its liveness probe while the
// consumer starts. Supply StartConfig{Background: true} to start the
// consumer in the background instead: the server then serves at once, its
// readiness probe (gininteg.Readiness) answers 503 until the consumer runs,
// and a start that fails shuts the application down with exit code 1.
//
// New and Route, the functions behind Module, can be called without fx.
package fxmodule
