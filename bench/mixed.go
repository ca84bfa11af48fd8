package main

import (
	"context"
	"fmt"
)

// Scenario h): which end limits request/reply. The library's and franz-go's
// requesters each call every side's responder at -inflight requests in
// flight: a row per requester, a column per responder (library, raw,
// franz-go), so lib/franz in a row is the library's responder against
// franz-go's under the same requester, and the rows compare the requesters.
// Rounds: -sweep-rounds.
func runMixed(ctx context.Context, e *env, o *options, s *rrSetup) []*metric {
	requesters := []string{sideLib, sideFranz}
	rows := make([]*runMetrics, len(requesters))
	for i, req := range requesters {
		rows[i] = e.newRunMetrics(fmt.Sprintf("h) %s requester x%d", req, o.inflight), "reply", "requests", 0, true, noLatency)
		rows[i].rate.Note = "columns: the responder"
	}
	for r := range o.sweepRounds {
		for i, req := range requesters {
			for _, resp := range allSides {
				e.progress("request/reply %s requester -> %s responder x%d: round %d/%d", req, resp, o.inflight, r+1, o.sweepRounds)
				l, u := e.timedDrive(ctx, o.inflight, o.duration, s.call(req, resp))
				rows[i].add(resp, l, u)
			}
		}
	}
	var out []*metric
	for _, row := range rows {
		out = append(out, row.metrics()...)
	}
	return out
}
