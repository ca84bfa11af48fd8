package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Scenario i), off by default: is the library's heap flat under load? The
// library's requester and responder (both in this process) run request/reply
// at -inflight requests in flight for -soak-duration (150 s), and every
// -soak-every (5 s) the heap in use (runtime.MemStats.HeapInuse, read right
// after a forced GC so it is the live heap, not where the collector's cycle
// happens to be) is sampled. The report gives the first, last and largest
// sample and the least-squares slope over the last half of the samples: a
// leak of b bytes per request shows as b x replies/s x 60 bytes per minute.
// The first half is left out of the slope because bounded structures fill
// during it: the Manager's memory of the correlation IDs it sent (65,536
// entries, core/pending.go) alone takes 13 s to fill at 5,000 replies/s.

// soakRun is the samples of a soak, in the JSON report.
type soakRun struct {
	Every    string    `json:"every"`
	Seconds  []float64 `json:"seconds"`
	HeapMiB  []float64 `json:"heap_inuse_mib"`
	Replies  int64     `json:"replies"`
	Failures int64     `json:"failures"`
}

func (s *soakRun) samplesMiB() string {
	parts := make([]string, len(s.HeapMiB))
	for i, v := range s.HeapMiB {
		parts[i] = fmt.Sprintf("%.1f", v)
	}
	return strings.Join(parts, " ")
}

// soakSlopeBound is the largest slope that counts as flat: 2 MiB per
// minute, a leak of 7 bytes per request at 5,000 replies/s (2 at 20,000/s).
// The heap in use after GC varies by about 1 MiB between samples here, which
// over the last 75 s of a 150 s run makes a slope of about 0.6 MiB/min.
const soakSlopeBound = 2048 // KiB/min

func runSoak(ctx context.Context, e *env, o *options) ([]*metric, *soakRun, error) {
	e.progress("soak: setting up the library's side")
	s, err := setupRR(ctx, e, sideLib)
	if err != nil {
		return nil, nil, fmt.Errorf("soak setup: %w", err)
	}
	defer s.close(e)
	call := s.call(sideLib, sideLib)
	if err := warmUp(ctx, o.warmup, map[string]func(context.Context) error{sideLib: call}); err != nil {
		return nil, nil, err
	}

	e.progress("soak: %d in flight for %s, heap sampled every %s", o.inflight, o.soakDuration, o.soakEvery)
	run := &soakRun{Every: o.soakEvery.String()}
	var replies, failed atomic.Int64
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	loadDone := make(chan struct{})
	before := e.cpu.sample()
	start := time.Now()
	go func() {
		defer close(loadDone)
		fns := make([]func() error, o.inflight)
		for i := range fns {
			fns[i] = func() error {
				for lctx.Err() == nil {
					rctx, cancel := context.WithTimeout(lctx, 10*time.Second)
					err := call(rctx)
					cancel()
					if err != nil {
						if lctx.Err() == nil {
							failed.Add(1)
						}
						continue
					}
					replies.Add(1)
				}
				return nil
			}
		}
		_ = parallel(fns...)
	}()
	tick := time.NewTicker(o.soakEvery)
	defer tick.Stop()
	end := time.After(o.soakDuration)
sampling:
	for {
		select {
		case <-tick.C:
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			run.Seconds = append(run.Seconds, time.Since(start).Seconds())
			run.HeapMiB = append(run.HeapMiB, float64(ms.HeapInuse)/(1<<20))
			e.progress("soak: %3.0fs heap in use %.1f MiB, %d replies", time.Since(start).Seconds(), run.HeapMiB[len(run.HeapMiB)-1], replies.Load())
		case <-end:
			break sampling
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	elapsed := time.Since(start)
	stop()
	<-loadDone
	used := e.cpu.since(before)
	run.Replies, run.Failures = replies.Load(), failed.Load()
	if len(run.HeapMiB) < 2 {
		return nil, nil, fmt.Errorf("soak: %d heap samples; make -soak-duration at least twice -soak-every", len(run.HeapMiB))
	}

	scenario := fmt.Sprintf("i) soak x%d %s", o.inflight, o.soakDuration)
	one := func(name, unit string, v float64) *metric {
		m := newMetric(scenario, name, unit)
		m.add(sideLib, v)
		return m
	}
	rps := one("replies/s", "1/s", float64(run.Replies)/elapsed.Seconds())
	if run.Failures > 0 {
		rps.addNote(fmt.Sprintf("failed requests: %d", run.Failures))
	}
	out := []*metric{
		rps,
		one("heap in use, first sample", "MiB", run.HeapMiB[0]),
		one("heap in use, last sample", "MiB", run.HeapMiB[len(run.HeapMiB)-1]),
		one("heap in use, max", "MiB", slices.Max(run.HeapMiB)),
		one("heap in use, slope (last half)", "KiB/min", lastHalfSlope(run.Seconds, run.HeapMiB)*1024*60).want("lib", "<=", soakSlopeBound),
	}
	cpu := e.newCPUMetrics(scenario, "reply", 0)
	cpu.add(sideLib, used, int(run.Replies))
	return append(out, cpu.metrics()...), run, nil
}

// lastHalfSlope is the slope over the last half of the samples (at least 2).
func lastHalfSlope(x, y []float64) float64 {
	from := min(len(x)/2, len(x)-2)
	return slope(x[from:], y[from:])
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
