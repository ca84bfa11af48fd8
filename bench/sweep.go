package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Scenario f): request/reply against the number of requests in flight
// (-sweep, 1,16,256,1024 by default), the data of the in-flight chart:
// replies/s, p50 and p99 latency and CPU per reply, per side and level. Each
// round drives every level, each side in turn, for -duration.
func runSweep(ctx context.Context, e *env, o *options, s *rrSetup, levels []int) []*metric {
	ms := make([]*runMetrics, len(levels))
	for i, n := range levels {
		ms[i] = e.newRunMetrics(fmt.Sprintf("f) req/reply x%d", n), "reply", "requests", n, true, p50AndP99)
	}
	calls := s.calls()
	for r := range o.sweepRounds {
		for i, n := range levels {
			for _, side := range allSides {
				e.progress("request/reply sweep x%d: round %d/%d, %s", n, r+1, o.sweepRounds, side)
				l, u := e.timedDrive(ctx, n, o.duration, calls[side])
				ms[i].add(side, l, u)
			}
		}
	}
	var out []*metric
	for _, m := range ms {
		out = append(out, m.metrics()...)
	}
	return out
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
