package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenarios a) and b): request/reply through a responder service.
//
// Library: a client Manager calls Request on the topic of a service Manager
// whose router binds "rpc.echo" to a handler that Replies with the request's
// data. Raw: rawRequester against a rawService doing the same.

const echoEvent = "rpc.echo"

type rrSetup struct {
	libClient, libSvc *core.Manager
	libTopic          string
	rawClient         *rawRequester
	rawSvc            *rawService
	rawTopic          string
	topics            []string
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

func closeManager(m *core.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.Close(ctx)
}

func setupRR(ctx context.Context, e *env) (*rrSetup, error) {
	s := &rrSetup{libTopic: e.name("lib-svc"), rawTopic: e.name("raw-svc")}
	libClient, rawClient := e.name("lib-client"), e.name("raw-client")
	// The library creates its topics itself; creating them here first keeps
	// both sides' setup alike and out of the measurement.
	s.topics = []string{s.libTopic, s.libTopic + ".replies", s.libTopic + ".dlq",
		libClient, libClient + ".replies", libClient + ".dlq", s.rawTopic, rawClient + ".replies"}
	if err := e.createTopics(ctx, s.topics...); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Add(4)
	go func() {
		defer wg.Done()
		r := core.NewEventRouter("root")
		rpc := core.NewEventRouter("rpc")
		rpc.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
			m, _ := core.FromContext(ctx)
			return m.Reply(ctx, ev, ev.Data)
		})
		r.IncludeBinder(rpc)
		s.libSvc, errs[0] = e.startManager(ctx, e.libConfig(s.libTopic), r)
	}()
	go func() {
		defer wg.Done()
		s.libClient, errs[1] = e.startManager(ctx, e.libConfig(libClient), nil)
	}()
	go func() {
		defer wg.Done()
		svc, err := newRawService(e, s.rawTopic, s.rawTopic, true, false)
		if err != nil {
			errs[2] = err
			return
		}
		svc.handlers[echoEvent] = func(msg *kafka.Message, ev *rawEvent) error {
			return svc.reply(msg, ev, ev.Data)
		}
		s.rawSvc = svc
		if errs[2] = svc.start(); errs[2] == nil {
			errs[2] = svc.awaitAssigned(ctx)
		}
	}()
	go func() {
		defer wg.Done()
		s.rawClient, errs[3] = newRawRequester(ctx, e, rawClient, rawClient+".replies")
	}()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.close(e)
		return nil, err
	}
	return s, nil
}

func (s *rrSetup) close(e *env) {
	var wg sync.WaitGroup
	for _, f := range []func(){
		func() {
			if s.libClient != nil {
				closeManager(s.libClient)
			}
		},
		func() {
			if s.libSvc != nil {
				closeManager(s.libSvc)
			}
		},
		func() {
			if s.rawClient != nil {
				s.rawClient.close()
			}
		},
		func() {
			if s.rawSvc != nil {
				s.rawSvc.close()
			}
		},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
	e.deleteTopics(s.topics...)
}

func (s *rrSetup) libRequest(ctx context.Context) error {
	ev, err := core.NewEventObject(echoEvent, smallPayload)
	if err != nil {
		return err
	}
	rep, err := s.libClient.Request(ctx, s.libTopic, ev)
	if err != nil {
		return err
	}
	if rep.Status != core.StatusCompleted || len(rep.Data) != len(smallPayload) {
		return fmt.Errorf("unexpected reply %+v", rep)
	}
	return nil
}

func (s *rrSetup) rawRequest(ctx context.Context) error {
	rep, err := s.rawClient.request(ctx, s.rawTopic, echoEvent, smallPayload)
	if err != nil {
		return err
	}
	if rep.Status != core.StatusCompleted || len(rep.Data) != len(smallPayload) {
		return fmt.Errorf("unexpected reply %+v", rep)
	}
	return nil
}

// load is the outcome of driving requests for a while.
type load struct {
	latencies []time.Duration // sorted
	done      int
	errors    int
	firstErr  error
	elapsed   time.Duration
}

func (l load) perSecond() float64 { return float64(l.done) / l.elapsed.Seconds() }

// drive runs fn from inflight goroutines, each back to back, for d.
func drive(ctx context.Context, inflight int, d time.Duration, fn func(context.Context) error) load {
	var (
		mu  sync.Mutex
		out load
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			errs := 0
			var first error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t := time.Now()
				err := fn(rctx)
				took := time.Since(t)
				cancel()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, took)
			}
			mu.Lock()
			out.latencies = append(out.latencies, lat...)
			out.errors += errs
			if out.firstErr == nil {
				out.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.done = len(out.latencies)
	slices.Sort(out.latencies)
	return out
}

func runRequestReply(ctx context.Context, e *env, o *options, want map[string]bool) ([]*metric, error) {
	e.progress("request/reply: setting up (group joins take a few seconds)")
	s, err := setupRR(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("request/reply setup: %w", err)
	}
	defer s.close(e)

	e.progress("request/reply: warm-up")
	for _, fn := range []func(context.Context) error{s.libRequest, s.rawRequest} {
		if l := drive(ctx, 8, o.warmup, fn); l.errors > 0 {
			return nil, fmt.Errorf("warm-up: %d errors, first: %w", l.errors, l.firstErr)
		}
	}

	p50 := &metric{Scenario: "a) req/reply x1", Name: "p50 latency", Unit: "ms", Target: "ratio<=", Bound: 1.1}
	p99 := &metric{Scenario: "a) req/reply x1", Name: "p99 latency", Unit: "ms", Target: "ratio<=", Bound: 1.3}
	rps := &metric{Scenario: fmt.Sprintf("b) req/reply x%d", o.inflight), Name: "replies/s", Unit: "1/s", Target: "ratio>=", Bound: 0.9}
	p99n := &metric{Scenario: fmt.Sprintf("b) req/reply x%d", o.inflight), Name: "p99 latency", Unit: "ms"}
	var errsA, errsB [2]int
	for i := range o.rounds {
		if want["rr1"] {
			e.progress("request/reply x1: round %d/%d", i+1, o.rounds)
			lib := drive(ctx, 1, o.duration, s.libRequest)
			raw := drive(ctx, 1, o.duration, s.rawRequest)
			p50.add(ms(percentile(lib.latencies, 50)), ms(percentile(raw.latencies, 50)))
			p99.add(ms(percentile(lib.latencies, 99)), ms(percentile(raw.latencies, 99)))
			errsA[0] += lib.errors
			errsA[1] += raw.errors
		}
		if want["rr256"] {
			e.progress("request/reply x%d: round %d/%d", o.inflight, i+1, o.rounds)
			lib := drive(ctx, o.inflight, o.duration, s.libRequest)
			raw := drive(ctx, o.inflight, o.duration, s.rawRequest)
			rps.add(lib.perSecond(), raw.perSecond())
			p99n.add(ms(percentile(lib.latencies, 99)), ms(percentile(raw.latencies, 99)))
			errsB[0] += lib.errors
			errsB[1] += raw.errors
		}
	}
	var out []*metric
	if want["rr1"] {
		if errsA != [2]int{} {
			p50.Note = fmt.Sprintf("failed requests: library %d, raw %d", errsA[0], errsA[1])
		}
		out = append(out, p50, p99)
	}
	if want["rr256"] {
		if errsB != [2]int{} {
			rps.Note = fmt.Sprintf("failed requests: library %d, raw %d", errsB[0], errsB[1])
		}
		out = append(out, rps, p99n)
	}
	return out, nil
}
