package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario eos: what exactly-once (core.Config.Transactional) costs a
// responder. Two library services run the same handler, which produces an
// event and replies: one at-least-once, one exactly-once (its replies,
// events and input offsets in a transaction committed every
// TransactionInterval, 100 ms by default). One client requests from both,
// alternating, at 1 and at -inflight requests in flight. In the table the
// "library" column is the exactly-once service and the "raw" column the
// at-least-once one, so the ratio is the cost of exactly-once.

const eosEvent = "rpc.echo"

type eosSetup struct {
	client        *core.Manager
	alo, eos      *core.Manager
	aloTo, eosTo  string
	topics        []string
	eosIntervalMs float64
}

func setupEOS(ctx context.Context, e *env) (*eosSetup, error) {
	s := &eosSetup{aloTo: e.name("alo-svc"), eosTo: e.name("eos-svc")}
	client, events := e.name("eos-client"), e.name("eos-events")
	s.topics = []string{events, client, client + ".replies", client + ".dlq"}
	for _, svc := range []string{s.aloTo, s.eosTo} {
		s.topics = append(s.topics, svc, svc+".replies", svc+".dlq")
	}
	if err := e.createTopics(ctx, s.topics...); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	router := func() *core.EventRouter {
		r := core.NewEventRouter("root")
		rpc := core.NewEventRouter("rpc")
		rpc.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
			m, _ := core.FromContext(ctx)
			note := &core.EventObject{CorrelationID: ev.CorrelationID, Event: "rpc.noted", Data: ev.Data}
			if err := m.Produce(ctx, events, note); err != nil {
				return err
			}
			return m.Reply(ctx, ev, ev.Data)
		})
		r.IncludeBinder(rpc)
		return r
	}
	eosCfg := e.libConfig(s.eosTo)
	eosCfg.Transactional = true
	eosCfg.TransactionalID = s.eosTo + ".bench"
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); s.alo, errs[0] = e.startManager(ctx, e.libConfig(s.aloTo), router()) }()
	go func() { defer wg.Done(); s.eos, errs[1] = e.startManager(ctx, eosCfg, router()) }()
	go func() { defer wg.Done(); s.client, errs[2] = e.startManager(ctx, e.libConfig(client), nil) }()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.close(e)
		return nil, err
	}
	s.eosIntervalMs = ms(s.eos.Config().TransactionInterval)
	return s, nil
}

func (s *eosSetup) close(e *env) {
	var wg sync.WaitGroup
	for _, m := range []*core.Manager{s.client, s.alo, s.eos} {
		if m != nil {
			wg.Add(1)
			go func() { defer wg.Done(); closeManager(m) }()
		}
	}
	wg.Wait()
	e.deleteTopics(s.topics...)
}

func (s *eosSetup) request(to string) func(context.Context) error {
	return func(ctx context.Context) error {
		ev, err := core.NewEventObject(eosEvent, smallPayload)
		if err != nil {
			return err
		}
		rep, err := s.client.Request(ctx, to, ev)
		if err != nil {
			return err
		}
		if rep.Status != core.StatusCompleted || len(rep.Data) != len(smallPayload) {
			return fmt.Errorf("unexpected reply %+v", rep)
		}
		return nil
	}
}

func runEOS(ctx context.Context, e *env, o *options) ([]*metric, error) {
	e.progress("exactly-once: setting up (group joins take a few seconds)")
	s, err := setupEOS(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("exactly-once setup: %w", err)
	}
	defer s.close(e)
	eos, alo := s.request(s.eosTo), s.request(s.aloTo)
	e.progress("exactly-once: warm-up")
	for _, fn := range []func(context.Context) error{eos, alo} {
		if l := drive(ctx, 8, o.warmup, fn); l.errors > 0 {
			return nil, fmt.Errorf("warm-up: %d errors, first: %w", l.errors, l.firstErr)
		}
	}
	note := fmt.Sprintf("library column: exactly-once (Transactional, interval %.0f ms); raw column: the same library service at-least-once", s.eosIntervalMs)
	one := "j) exactly-once x1"
	many := fmt.Sprintf("j) exactly-once x%d", o.inflight)
	p50 := &metric{Scenario: one, Name: "p50 latency", Unit: "ms", Note: note}
	p99 := &metric{Scenario: one, Name: "p99 latency", Unit: "ms"}
	rps := &metric{Scenario: many, Name: "replies/s", Unit: "1/s"}
	p50n := &metric{Scenario: many, Name: "p50 latency", Unit: "ms"}
	p99n := &metric{Scenario: many, Name: "p99 latency", Unit: "ms"}
	var failed [2]int
	for i := range o.rounds {
		e.progress("exactly-once x1: round %d/%d", i+1, o.rounds)
		x, y := drive(ctx, 1, o.duration, eos), drive(ctx, 1, o.duration, alo)
		p50.add(sideLib, ms(percentile(x.latencies, 50)))
		p50.add(sideRaw, ms(percentile(y.latencies, 50)))
		p99.add(sideLib, ms(percentile(x.latencies, 99)))
		p99.add(sideRaw, ms(percentile(y.latencies, 99)))
		failed[0], failed[1] = failed[0]+x.errors, failed[1]+y.errors
		e.progress("exactly-once x%d: round %d/%d", o.inflight, i+1, o.rounds)
		x, y = drive(ctx, o.inflight, o.duration, eos), drive(ctx, o.inflight, o.duration, alo)
		rps.add(sideLib, x.perSecond())
		rps.add(sideRaw, y.perSecond())
		p50n.add(sideLib, ms(percentile(x.latencies, 50)))
		p50n.add(sideRaw, ms(percentile(y.latencies, 50)))
		p99n.add(sideLib, ms(percentile(x.latencies, 99)))
		p99n.add(sideRaw, ms(percentile(y.latencies, 99)))
		failed[0], failed[1] = failed[0]+x.errors, failed[1]+y.errors
	}
	if failed != [2]int{} {
		rps.Note = fmt.Sprintf("failed requests: exactly-once %d, at-least-once %d", failed[0], failed[1])
	}
	return []*metric{p50, p99, rps, p50n, p99n}, nil
}
