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
	"github.com/kafka-broker/kafka-broker-go/internal/startup"
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
// On start the consumer is started (InitConsumer, bounded: see StartConfig)
// and the hook returns once it is ready, or at once with
// StartConfig.Background; on stop the manager is closed (Close) within the
// stop timeout.
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

// StartConfig sets how Module starts the consumer. Supply one to change the
// defaults:
//
//	fx.Supply(fxmodule.StartConfig{Background: true})
type StartConfig struct {
	// Background makes OnStart return at once and start the consumer in the
	// background, so that the components fx starts after the manager, such
	// as an HTTP server whose handlers depend on it, serve meanwhile: a
	// liveness probe answers while the consumer starts, a readiness probe
	// (gininteg.Readiness, Manager.Ready) once it runs, and a Request before
	// then fails with core.ErrNotStarted. A start that fails or runs out of
	// Timeout is logged with the reason, naming the brokers, and shuts the
	// application down with exit code 1 (fx.Shutdowner).
	//
	// By default OnStart returns once the consumer runs, and a start that
	// fails makes app.Start fail with the reason.
	Background bool
	// Timeout bounds the start. Default 30s; in the foreground fx's start
	// timeout (fx.StartTimeout, 15s by default) bounds it too.
	Timeout time.Duration
}

// Params are the dependencies of New.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	// Config configures the manager; when it is the zero Config,
	// core.ConfigFromEnv is used instead.
	Config core.Config `optional:"true"`
	// Logger, when set, is the manager's logger, and logs a background
	// start that failed.
	Logger *slog.Logger `optional:"true"`
	// Start, when supplied, sets how the consumer starts.
	Start StartConfig `optional:"true"`
	// Shutdowner ends the application when a background start fails; fx
	// always provides one.
	Shutdowner fx.Shutdowner `optional:"true"`
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
	log := slog.Default()
	if p.Logger != nil {
		opts = append(opts, core.WithLogger(p.Logger))
		log = p.Logger
	}
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		return Result{}, err
	}
	s := &starter{m: m, cfg: p.Start, log: log, shutdowner: p.Shutdowner}
	p.Lifecycle.Append(fx.Hook{OnStart: s.start, OnStop: s.stop})
	return Result{Manager: m}, nil
}

// starter starts and stops a manager's consumer for the lifecycle, and owns
// the goroutine of a background start.
type starter struct {
	m          *core.Manager
	cfg        StartConfig
	log        *slog.Logger
	shutdowner fx.Shutdowner

	cancel context.CancelFunc // ends a background start
	done   chan struct{}      // closed when the background start returned
}

func (s *starter) start(ctx context.Context) error {
	if !s.cfg.Background {
		return startNow(ctx, s.m, s.cfg.Timeout)
	}
	bg, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.startInBackground(bg)
	return nil
}

func (s *starter) startInBackground(ctx context.Context) {
	defer close(s.done)
	err := startup.Consumer(ctx, s.m, s.cfg.Timeout, "fxmodule.StartConfig.Timeout")
	if err == nil || ctx.Err() != nil {
		return
	}
	s.log.Error("fxmodule: start consumer: shutting the application down", "error", err)
	if s.shutdowner != nil {
		if serr := s.shutdowner.Shutdown(fx.ExitCode(1)); serr != nil {
			s.log.Error("fxmodule: shut down after the failed start", "error", serr)
		}
	}
}

// stop ends a background start still running, then closes the manager.
func (s *starter) stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("fxmodule: stop: the consumer's start did not end: %w", ctx.Err())
		}
	}
	return s.m.Close(ctx)
}

// startNow runs InitConsumer within timeout, keeping part of fx's start
// timeout back: a start that cannot finish then fails with the manager's own
// error, which names the brokers, rather than fx's bare deadline, and the
// manager is closed before fx gives up on the hook.
func startNow(ctx context.Context, m *core.Manager, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = startup.DefaultTimeout
	}
	knob := "fxmodule.StartConfig.Timeout"
	if left, ok := reserve(ctx); ok && left < timeout {
		timeout, knob = max(left, time.Millisecond), "fx.StartTimeout"
	}
	err := startup.Consumer(ctx, m, timeout, knob)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("fxmodule: start consumer: %w", err)
	if cerr := m.Close(ctx); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// reserve returns the time left before ctx's deadline minus a fifth of it,
// at most two seconds, kept for cleaning up; false when ctx has none.
func reserve(ctx context.Context) (time.Duration, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	left := time.Until(dl)
	return left - min(left/5, 2*time.Second), true
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
