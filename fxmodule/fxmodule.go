package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"go.uber.org/fx"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// RouterGroup is the value group Module collects routers from. AsRouter puts
// a constructor's router in it; an fx.Out struct can do the same with the tag
// `group:"kafka-broker.routers"`.
const RouterGroup = "kafka-broker.routers"

// Module provides a *core.Manager built from the core.Config in the graph, or
// from core.ConfigFromEnv when the application supplies none (a zero Config
// counts as none). A *slog.Logger in the graph, when there is one, becomes
// the manager's logger.
//
// Routers contributed to RouterGroup (see AsRouter) are included in one root
// router, named after the Location, that receives the consumed events; with
// none, events go to the manager's ConsumerStorage.
//
// On start the consumer is started (InitConsumer) and the hook returns once it
// is ready; on stop the manager is closed (Close) within the stop timeout.
// Components that depend on the manager, such as an HTTP server whose
// handlers send requests, are started after the consumer and stopped before
// it, so they drain while the manager still works.
var Module = fx.Module("kafka-broker",
	fx.Provide(New),
	fx.Invoke(Route),
)

// AsRouter annotates constructor, a function returning a *core.EventRouter
// (and optionally an error), so that its router joins RouterGroup:
//
//	fx.Provide(fxmodule.AsRouter(newOrdersRouter))
func AsRouter(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+RouterGroup+`"`))
}

// Params are the dependencies of New.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	// Config configures the manager; when it is the zero Config,
	// core.ConfigFromEnv is used instead.
	Config core.Config `optional:"true"`
	// Logger, when set, is the manager's logger.
	Logger *slog.Logger `optional:"true"`
}

// Result is what New provides.
type Result struct {
	fx.Out

	Manager *core.Manager
}

// New creates the manager and appends a hook to p.Lifecycle that starts its
// consumer on start and closes it on stop. It is the constructor behind
// Module, usable without fx with any fx.Lifecycle implementation.
//
// A start that fails (an unreachable broker, a group that cannot be joined)
// closes the manager before returning the reason, so nothing is left running.
func New(p Params) (Result, error) {
	cfg := p.Config
	if reflect.DeepEqual(cfg, core.Config{}) {
		var err error
		if cfg, err = core.ConfigFromEnv(); err != nil {
			return Result{}, fmt.Errorf("fxmodule: no core.Config in the graph, and from the environment: %w", err)
		}
	}
	var opts []core.Option
	if p.Logger != nil {
		opts = append(opts, core.WithLogger(p.Logger))
	}
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		return Result{}, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error { return start(ctx, m) },
		OnStop:  m.Close,
	})
	return Result{Manager: m}, nil
}

// start runs InitConsumer, keeping part of the start timeout back: a start
// that cannot finish then fails with the manager's own error, which names the
// brokers, rather than fx's bare deadline, and the manager is closed before
// fx gives up on the hook.
func start(ctx context.Context, m *core.Manager) error {
	initCtx, cancel := reserve(ctx)
	defer cancel()
	err := m.InitConsumer(initCtx)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("fxmodule: start consumer: %w", err)
	if cerr := m.Close(ctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// reserve returns a context whose deadline leaves a fifth of ctx's remaining
// time, at most two seconds, for cleaning up.
func reserve(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	keep := min(time.Until(dl)/5, 2*time.Second)
	return context.WithDeadline(ctx, dl.Add(-keep))
}

// RouteParams are the dependencies of Route.
type RouteParams struct {
	fx.In

	Manager *core.Manager
	Routers []*core.EventRouter `group:"kafka-broker.routers"`
}

// Route includes the contributed routers in a root router named after the
// manager's Location and makes the manager route consumed events to it.
// Without routers it leaves the manager's router unset. Two routers with the
// same name, or a nil router, are an error; the manager is then closed, as
// fx runs no hook of an application that failed to build.
//
// Route is a separate step from New so that routers and whatever they depend
// on may themselves depend on the *core.Manager.
func Route(p RouteParams) error {
	if len(p.Routers) == 0 {
		return nil
	}
	root, err := rootRouter(p.Manager.Config().Location, p.Routers)
	if err != nil {
		p.Manager.Close(context.Background()) // nothing was started: it returns at once
		return err
	}
	p.Manager.SetRouter(root)
	return nil
}

// rootRouter includes routers in a new router, turning the panics that
// IncludeBinder raises at setup into an error.
func rootRouter(name string, routers []*core.EventRouter) (root *core.EventRouter, err error) {
	root = core.NewEventRouter(name)
	for i, r := range routers {
		if r == nil {
			return nil, fmt.Errorf("fxmodule: router %d of group %q is nil", i, RouterGroup)
		}
		if err := include(root, r); err != nil {
			return nil, err
		}
	}
	return root, nil
}

func include(root, r *core.EventRouter) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("fxmodule: include router %q: %v", r.Name(), p)
		}
	}()
	root.IncludeBinder(r)
	return nil
}
