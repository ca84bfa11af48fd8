package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Scenario f): request/reply throughput against the number of requests in
// flight (o.sweep, 1,16,256,1024 by default), the data of the in-flight
// chart. Same setup as a) and b); each round drives every level, the library
// then the raw side, for o.duration.
func runSweep(ctx context.Context, e *env, o *options, levels []int) ([]*metric, error) {
	e.progress("request/reply sweep: setting up (group joins take a few seconds)")
	s, err := setupRR(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("request/reply setup: %w", err)
	}
	defer s.close(e)

	e.progress("request/reply sweep: warm-up")
	for _, fn := range []func(context.Context) error{s.libRequest, s.rawRequest} {
		if l := drive(ctx, 8, o.warmup, fn); l.errors > 0 {
			return nil, fmt.Errorf("warm-up: %d errors, first: %w", l.errors, l.firstErr)
		}
	}
	metrics := make([]*metric, len(levels))
	errs := make([][2]int, len(levels))
	for i, n := range levels {
		metrics[i] = &metric{Scenario: fmt.Sprintf("f) req/reply x%d", n), Name: "replies/s", Unit: "1/s", InFlight: n}
	}
	for r := range o.sweepRounds {
		for i, n := range levels {
			e.progress("request/reply sweep x%d: round %d/%d", n, r+1, o.sweepRounds)
			lib := drive(ctx, n, o.duration, s.libRequest)
			raw := drive(ctx, n, o.duration, s.rawRequest)
			metrics[i].add(lib.perSecond(), raw.perSecond())
			errs[i][0] += lib.errors
			errs[i][1] += raw.errors
		}
	}
	for i, m := range metrics {
		if errs[i] != [2]int{} {
			m.Note = fmt.Sprintf("failed requests: library %d, raw %d", errs[i][0], errs[i][1])
		}
	}
	return metrics, nil
}

// parseLevels reads "1,16,256,1024".
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sweep: want positive integers, got %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-sweep: no levels")
	}
	return out, nil
}
