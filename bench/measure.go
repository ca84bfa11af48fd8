package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// load is the outcome of driving operations for a while.
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

// timedDrive is drive, with the CPU the broker and this process spent.
func (e *env) timedDrive(ctx context.Context, inflight int, d time.Duration, fn func(context.Context) error) (load, cpuUse) {
	before := e.cpu.sample()
	l := drive(ctx, inflight, d, fn)
	return l, e.cpu.since(before)
}

// warmUp runs each fn unmeasured for d with 8 in flight.
func warmUp(ctx context.Context, d time.Duration, fns map[string]func(context.Context) error) error {
	for _, side := range allSides {
		if fn, ok := fns[side]; ok {
			if l := drive(ctx, 8, d, fn); l.errors > 0 {
				return fmt.Errorf("warm-up (%s): %d errors, first: %w", side, l.errors, l.firstErr)
			}
		}
	}
	return nil
}

// cpuMetrics are the CPU per operation of a scenario: the broker's (when
// its process is known) and this process's (the clients of the side
// measured; the other sides' clients idle).
type cpuMetrics struct{ broker, self *metric }

func (e *env) newCPUMetrics(scenario, per string, inFlight int) *cpuMetrics {
	c := &cpuMetrics{self: newMetric(scenario, "client CPU per "+per, "us")}
	c.self.InFlight = inFlight
	if e.cpu.brokerPID > 0 {
		c.broker = newMetric(scenario, "broker CPU per "+per, "us")
		c.broker.InFlight = inFlight
	}
	return c
}

// add records the CPU u spent on n operations.
func (c *cpuMetrics) add(side string, u cpuUse, n int) {
	per := func(d time.Duration) float64 {
		if n <= 0 {
			return 0
		}
		return float64(d.Microseconds()) / float64(n)
	}
	if c.broker != nil && u.broker >= 0 {
		c.broker.add(side, per(u.broker))
	}
	c.self.add(side, per(u.self))
}

func (c *cpuMetrics) metrics() []*metric {
	if c.broker == nil {
		return []*metric{c.self}
	}
	return []*metric{c.broker, c.self}
}

// runMetrics are the metrics of timed runs: any of the rate, p50 and p99
// latency, and the CPU per operation, with the failed operations per side.
type runMetrics struct {
	rate, p50, p99 *metric
	cpu            *cpuMetrics
	failed         map[string]int
	what           string // the operations, for the failures note: "requests"
}

// Which latencies runMetrics keeps.
const (
	noLatency = iota
	p99Only
	p50AndP99
)

// newRunMetrics: per is one operation ("reply", "event"), what the failed
// ones ("requests", "acks"); rate false leaves the rate out.
func (e *env) newRunMetrics(scenario, per, what string, inFlight int, rate bool, latencies int) *runMetrics {
	m := &runMetrics{cpu: e.newCPUMetrics(scenario, per, inFlight), failed: map[string]int{}, what: what}
	mk := func(on bool, name, unit string) *metric {
		if !on {
			return nil
		}
		x := newMetric(scenario, name, unit)
		x.InFlight = inFlight
		return x
	}
	rateName := per + "s/s"
	if per == "reply" {
		rateName = "replies/s"
	}
	m.rate = mk(rate, rateName, "1/s")
	m.p50 = mk(latencies == p50AndP99, "p50 latency", "ms")
	m.p99 = mk(latencies != noLatency, "p99 latency", "ms")
	return m
}

func (m *runMetrics) add(side string, l load, u cpuUse) {
	if m.rate != nil {
		m.rate.add(side, l.perSecond())
	}
	if m.p50 != nil {
		m.p50.add(side, ms(percentile(l.latencies, 50)))
	}
	if m.p99 != nil {
		m.p99.add(side, ms(percentile(l.latencies, 99)))
	}
	m.cpu.add(side, u, l.done)
	m.failed[side] += l.errors
}

// metrics lists the metrics, the failures noted on the first.
func (m *runMetrics) metrics() []*metric {
	var out []*metric
	for _, x := range []*metric{m.rate, m.p50, m.p99} {
		if x != nil {
			out = append(out, x)
		}
	}
	out = append(out, m.cpu.metrics()...)
	if note := failures(m.failed, m.what); note != "" {
		out[0].addNote(note)
	}
	return out
}

// eachRound runs every side once per round, in turn, and records the runs
// in m.
func (e *env) eachRound(rounds int, label string, m *runMetrics, run func(side string) (load, cpuUse, error)) error {
	for i := range rounds {
		for _, side := range allSides {
			e.progress("%s: round %d/%d, %s", label, i+1, rounds, side)
			l, u, err := run(side)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", label, side, err)
			}
			m.add(side, l, u)
		}
	}
	return nil
}

// failures notes failed operations per side, "" when there were none.
func failures(failed map[string]int, what string) string {
	var parts []string
	total := 0
	for _, side := range allSides {
		if n, ok := failed[side]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", side, n))
			total += n
		}
	}
	if total == 0 {
		return ""
	}
	return "failed " + what + ": " + strings.Join(parts, ", ")
}
