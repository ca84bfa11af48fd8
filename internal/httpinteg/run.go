package httpinteg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/startup"
)

// abandonTimeout is how long handlers whose requests were canceled at the
// end of the grace period get to answer before connections close.
const abandonTimeout = 5 * time.Second

// Run serves srv on addr (or cfg.Listener) at once and starts m's consumer
// meanwhile, so that a liveness probe answers from the moment the port is
// open and readiness once the consumer runs; handlers that send requests
// answer 503 not_ready until then. It serves until ctx ends, a signal of
// cfg.Signals arrives, serving fails, or the consumer cannot start within
// cfg.InitTimeout, then shuts down: it stops accepting connections, waits
// for in-flight handlers up to the grace period (then cancels their
// requests' contexts, so awaits end with 503), and only then closes m. Run
// always closes m before it returns. It returns nil after a requested
// shutdown that drained in time, and the reason, naming the brokers and what
// to do, when the consumer did not start.
func Run(ctx context.Context, srv *http.Server, m *core.Manager, addr string, cfg RunConfig) error {
	name := cfg.Name
	if m == nil {
		return fmt.Errorf("%s: run: nil manager", name)
	}
	if srv == nil || srv.Handler == nil {
		return errors.Join(fmt.Errorf("%s: run: nil handler", name), closeManager(m, cfg))
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	stopCtx, stopSignals := ctx, context.CancelFunc(func() {})
	if len(cfg.Signals) > 0 {
		stopCtx, stopSignals = signal.NotifyContext(ctx, cfg.Signals...)
	}
	defer stopSignals()

	ln := cfg.Listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(stopCtx, "tcp", addr); err != nil {
			return errors.Join(fmt.Errorf("%s: listen: %w", name, err), closeManager(m, cfg))
		}
	}
	t := newTracker(srv.Handler)
	defer t.abandon()
	srv.Handler = t
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info(name+": serving HTTP; starting the consumer", "addr", ln.Addr().String(),
		"location", m.Config().Location, "brokers", m.Config().BootstrapServers)

	serveErr, startErr := serve(stopCtx, m, cfg, ln.Addr(), served, log)
	stopSignals() // a second signal ends the process the default way
	log.Info(name+": shutting down: draining HTTP requests", "in_flight", t.inFlight(), "grace", cfg.GracePeriod)
	drainErr := drain(srv, t, cfg, log)
	if serveErr == nil {
		serveErr = <-served
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	} else if serveErr != nil {
		serveErr = fmt.Errorf("%s: serve: %w", name, serveErr)
	}
	closeErr := closeManager(m, cfg)
	if closeErr == nil {
		log.Info(name+": stopped", "location", m.Config().Location)
	}
	return errors.Join(startErr, serveErr, drainErr, closeErr)
}

// serve starts m's consumer while HTTP serves, then waits until stopCtx
// ends or serving fails. It returns serving's error when it ended, and the
// start's failure; a start that stopCtx's end interrupted is not one.
func serve(stopCtx context.Context, m *core.Manager, cfg RunConfig, addr net.Addr, served <-chan error, log *slog.Logger) (serveErr, startErr error) {
	startCtx, cancelStart := context.WithCancel(stopCtx)
	defer cancelStart()
	started := make(chan error, 1)
	go func() { started <- startup.Consumer(startCtx, m, cfg.InitTimeout, "WithInitTimeout") }()
	select {
	case startErr = <-started:
	case serveErr = <-served:
		cancelStart()
		<-started
		return serveErr, nil
	}
	if startErr != nil {
		if stopCtx.Err() != nil {
			return nil, nil // stopped while starting
		}
		return nil, fmt.Errorf("%s: start consumer: %w", cfg.Name, startErr)
	}
	log.Info(cfg.Name+": consumer ready", "addr", addr.String(), "location", m.Config().Location)
	if cfg.OnReady != nil {
		cfg.OnReady(addr)
	}
	select {
	case <-stopCtx.Done():
		return nil, nil
	case serveErr = <-served:
		return serveErr, nil
	}
}

// drain stops accepting and waits for in-flight handlers until the grace
// period ends; then it cancels their requests and gives them abandonTimeout
// to answer before closing the connections.
func drain(srv *http.Server, t *tracker, cfg RunConfig, log *slog.Logger) error {
	grace := cfg.GracePeriod
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err == nil {
		err = t.wait(ctx) // hijacked connections are not Shutdown's
	}
	if err == nil {
		return nil
	}
	n := t.inFlight()
	log.Warn(cfg.Name+": grace period over: canceling in-flight HTTP requests", "in_flight", n, "grace", grace)
	t.abandon()
	hctx, hcancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer hcancel()
	if err := t.wait(hctx); err != nil {
		srv.Close()
		return fmt.Errorf("%s: %d HTTP handlers still running %s after their requests were canceled: %w",
			cfg.Name, t.inFlight(), abandonTimeout, err)
	}
	// Let the canceled requests' responses go out before closing.
	if srv.Shutdown(hctx) != nil {
		srv.Close()
	}
	return fmt.Errorf("%s: %d HTTP requests still in flight after the grace period (%s) were canceled: %w",
		cfg.Name, n, grace, context.DeadlineExceeded)
}

func closeManager(m *core.Manager, cfg RunConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.CloseTimeout)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		return fmt.Errorf("%s: close manager: %w", cfg.Name, err)
	}
	return nil
}

// tracker counts the handlers in flight and can cancel their requests'
// contexts.
type tracker struct {
	h       http.Handler
	stopCtx context.Context
	abandon context.CancelFunc

	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while nobody waits
}

func newTracker(h http.Handler) *tracker {
	t := &tracker{h: h}
	t.stopCtx, t.abandon = context.WithCancel(context.Background())
	return t
}

func (t *tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
	defer t.done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(t.stopCtx, cancel)
	defer stop()
	t.h.ServeHTTP(w, r.WithContext(ctx))
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait returns once no handler runs, or ctx's error.
func (t *tracker) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		if t.n == 0 {
			t.mu.Unlock()
			return nil
		}
		if t.idle == nil {
			t.idle = make(chan struct{})
		}
		idle := t.idle
		t.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
