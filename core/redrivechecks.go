package core

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checks are the refusals that depend on the dead letter alone.
type checks struct {
	maxHops, maxRedrives int
}

func defaultChecks(cfg Config) checks {
	return checks{maxHops: cfg.MaxHops, maxRedrives: DefaultMaxRedrives}
}

// refusal says why d must not be redriven, "" when it may; force overrides
// what it can.
func (c checks) refusal(d *DeadLetter, force bool) (code, detail string) {
	if d.Cut() {
		what := strings.Join(d.Truncated, ", ")
		if d.ValueDropped != "" {
			what = "value dropped (" + d.ValueDropped + ")"
		}
		return RefusedCut, fmt.Sprintf("the dead letter was cut to fit the dead-letter topic (%s; the original record had %d bytes): it records what happened but is no copy to replay", what, d.OriginalSize)
	}
	if d.Event == nil || isMalformedKind(d.Kind) {
		if !force {
			why := d.DecodeError
			if why == "" {
				why = "it was dead-lettered as malformed (" + d.Kind + ")"
			}
			return RefusedUndecodable, "the service cannot decode it: " + why + "; a redrive would only dead-letter it again (--force sends it as it is)"
		}
	}
	if d.HeadersCut() && !force {
		return RefusedHeadersCut, "its original headers (reply address, trace context, ...) were cut to fit the dead-letter topic; the event is whole (--force redrives it without them)"
	}
	if d.Kind == DeadLetterUnsolicitedReply && !force {
		return RefusedUnsolicitedReply, "a reply nothing awaited: the service would dead-letter it again (--force redrives it)"
	}
	if d.Event != nil && c.maxHops > 0 && len(d.Event.AuditLog)+1 > c.maxHops {
		return RefusedMaxHops, fmt.Sprintf("its audit log has %d hops; the redrive hop would exceed MaxHops (%d)", len(d.Event.AuditLog), c.maxHops)
	}
	if c.maxRedrives > 0 && d.RedriveCount >= c.maxRedrives {
		return RefusedMaxRedrives, fmt.Sprintf("the record was redriven %s already (at most %d; raise it with --max-redrives)", times(d.RedriveCount), c.maxRedrives)
	}
	if r := d.Redriven; r != nil && !force {
		return RefusedAlreadyRedriven, fmt.Sprintf("redriven to %s at %s (%s); --force redrives it again", r.To, r.At.UTC().Format(time.RFC3339), times(r.Times))
	}
	return "", ""
}

// times words a count of redrives.
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

func isMalformedKind(kind string) bool { return slices.Contains(malformedKinds[:], kind) }

// topicAllowed reports whether topic matches one of the patterns: a name,
// or a prefix ending in "*".
func topicAllowed(topic string, patterns []string) bool {
	for _, p := range patterns {
		if p == topic || (strings.HasSuffix(p, "*") && strings.HasPrefix(topic, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// forbiddenTarget says why no redrive may write to topic, "" when it may.
func forbiddenTarget(topic string) string {
	switch {
	case strings.HasSuffix(topic, ".dlq"):
		return "a dead-letter topic"
	case strings.HasSuffix(topic, ".redrive"):
		return "a redrive ledger"
	case strings.HasPrefix(topic, "__"):
		return "an internal topic"
	}
	return ""
}
