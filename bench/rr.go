package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// The request/reply scenarios: a) 1 in flight, b) -inflight in flight,
// f) the in-flight sweep (sweep.go), h) requesters against other sides'
// responders (mixed.go), i) the soak (soak.go). Every side has a requester
// and a responder whose router (or handler map) binds "rpc.echo" to a reply
// with the request's data. Library: a client Manager calling Request, a
// service Manager whose handler calls Reply. Raw and franz-go: their
// requester and service (raw.go, franz.go). Any requester can call any
// responder: they speak the same wire format and reply to the
// kafka_replyTopic header.

const echoEvent = "rpc.echo"

// rrSide is one side's requester and responder.
type rrSide struct {
	responder string                                        // the responder's topic
	request   func(ctx context.Context, topic string) error // one checked round trip
	topics    []string                                      // created for it, deleted after
	close     func()
}

// rrSetup holds the sides of a request/reply run.
type rrSetup struct {
	sides map[string]*rrSide
}

// call is a request from side req's requester to side resp's responder.
func (s *rrSetup) call(req, resp string) func(context.Context) error {
	fn, topic := s.sides[req].request, s.sides[resp].responder
	return func(ctx context.Context) error { return fn(ctx, topic) }
}

// calls are each side's requests to its own responder.
func (s *rrSetup) calls() map[string]func(context.Context) error {
	out := map[string]func(context.Context) error{}
	for side := range s.sides {
		out[side] = s.call(side, side)
	}
	return out
}

func setupRR(ctx context.Context, e *env, sides ...string) (*rrSetup, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	starts := map[string]func(context.Context, *env) (*rrSide, error){
		sideLib: startLibRR,
		sideRaw: func(ctx context.Context, e *env) (*rrSide, error) {
			return startHandwrittenRR(ctx, e, "raw",
				func(topic string) (*rawService, error) { return newRawService(e, topic, topic, true, false) },
				func(ctx context.Context, location, replyTopic string) (*rawRequester, error) {
					return newRawRequester(ctx, e, location, replyTopic)
				})
		},
		sideFranz: func(ctx context.Context, e *env) (*rrSide, error) {
			return startHandwrittenRR(ctx, e, "franz",
				func(topic string) (*franzService, error) { return newFranzService(e, topic, topic) },
				func(ctx context.Context, location, replyTopic string) (*franzRequester, error) {
					return newFranzRequester(ctx, e, location, replyTopic)
				})
		},
	}
	s := &rrSetup{sides: map[string]*rrSide{}}
	var mu sync.Mutex
	fns := make([]func() error, 0, len(sides))
	for _, side := range sides {
		fns = append(fns, func() error {
			rs, err := starts[side](ctx, e)
			if err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			mu.Lock()
			s.sides[side] = rs
			mu.Unlock()
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		s.close(e)
		return nil, err
	}
	return s, nil
}

func (s *rrSetup) close(e *env) {
	var fns []func() error
	var topics []string
	for _, rs := range s.sides {
		fns = append(fns, func() error { rs.close(); return nil })
		topics = append(topics, rs.topics...)
	}
	_ = parallel(fns...)
	e.deleteTopics(topics...)
}

// startLibRR starts the library's side: a service Manager replying to
// "rpc.echo" and a client Manager.
func startLibRR(ctx context.Context, e *env) (*rrSide, error) {
	svc, client := e.name("lib-svc"), e.name("lib-client")
	// The library creates its topics itself; creating them here first keeps
	// every side's setup alike and out of the measurement.
	side := &rrSide{responder: svc, topics: []string{svc, svc + ".replies", svc + ".dlq", client, client + ".replies", client + ".dlq"}}
	if err := e.createTopics(ctx, side.topics...); err != nil {
		return nil, err
	}
	var libSvc, libClient *core.Manager
	err := parallel(
		func() error {
			r, rpc := core.NewEventRouter("root"), core.NewEventRouter("rpc")
			rpc.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
				m, _ := core.FromContext(ctx)
				return m.Reply(ctx, ev, ev.Data)
			})
			r.IncludeBinder(rpc)
			var err error
			libSvc, err = e.startManager(ctx, e.libConfig(svc), r)
			return err
		},
		func() error {
			var err error
			libClient, err = e.startManager(ctx, e.libConfig(client), nil)
			return err
		},
	)
	side.close = func() {
		_ = parallel(
			func() error { closeManager(libSvc); return nil },
			func() error { closeManager(libClient); return nil },
		)
	}
	if err != nil {
		side.close()
		e.deleteTopics(side.topics...)
		return nil, err
	}
	side.request = func(ctx context.Context, topic string) error {
		ev, err := core.NewEventObject(echoEvent, smallPayload)
		if err != nil {
			return err
		}
		rep, err := libClient.Request(ctx, topic, ev)
		if err != nil {
			return err
		}
		return checkEcho(rep.Status, rep.Data)
	}
	return side, nil
}

func (e *env) startManager(ctx context.Context, cfg core.Config, r *core.EventRouter) (*core.Manager, error) {
	m, err := core.NewManager(cfg, core.WithLogger(e.log))
	if err != nil {
		return nil, err
	}
	if r != nil {
		m.SetRouter(r)
	}
	if err := m.InitConsumer(ctx); err != nil {
		closeManager(m)
		return nil, err
	}
	return m, nil
}

// closeManager closes m (nil: nothing).
func closeManager(m *core.Manager) {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.Close(ctx)
}

// runRequestReply runs the request/reply scenarios wanted (rr1, rr256,
// inflight, mixed) on one setup of every side.
func runRequestReply(ctx context.Context, e *env, o *options, want map[string]bool, levels []int) ([]*metric, error) {
	e.progress("request/reply: setting up (group joins take a few seconds)")
	s, err := setupRR(ctx, e, allSides...)
	if err != nil {
		return nil, fmt.Errorf("request/reply setup: %w", err)
	}
	defer s.close(e)
	e.progress("request/reply: warm-up")
	if err := warmUp(ctx, o.warmup, s.calls()); err != nil {
		return nil, err
	}
	var out []*metric
	if want["rr1"] || want["rr256"] {
		out = append(out, runFixed(ctx, e, o, s, want)...)
	}
	if want["inflight"] {
		out = append(out, runSweep(ctx, e, o, s, levels)...)
	}
	if want["mixed"] {
		out = append(out, runMixed(ctx, e, o, s)...)
	}
	return out, nil
}

// runFixed is scenarios a) and b): every side at 1 request in flight, then
// at -inflight.
func runFixed(ctx context.Context, e *env, o *options, s *rrSetup, want map[string]bool) []*metric {
	calls := s.calls()
	var out []*metric
	if want["rr1"] {
		a := e.newRunMetrics("a) req/reply x1", "reply", "requests", 0, false, p50AndP99)
		a.p50.want("lib/raw", "<=", 1.1)
		a.p99.want("lib/raw", "<=", 1.3)
		_ = e.eachRound(o.rounds, "request/reply x1", a, func(side string) (load, cpuUse, error) {
			l, u := e.timedDrive(ctx, 1, o.duration, calls[side])
			return l, u, nil
		})
		out = append(out, a.metrics()...)
	}
	if want["rr256"] {
		b := e.newRunMetrics(fmt.Sprintf("b) req/reply x%d", o.inflight), "reply", "requests", 0, true, p99Only)
		b.rate.want("lib/raw", ">=", 0.9).want("lib/franz-go", ">=", 0.5)
		_ = e.eachRound(o.rounds, fmt.Sprintf("request/reply x%d", o.inflight), b, func(side string) (load, cpuUse, error) {
			l, u := e.timedDrive(ctx, o.inflight, o.duration, calls[side])
			return l, u, nil
		})
		out = append(out, b.metrics()...)
	}
	return out
}
