package asyncapi

import (
	"regexp"
	"strings"
)

// keyPattern is the regular expression (ECMA 262, as JSON Schema uses) of the
// event names a routing key with wildcards matches, the way core.EventRouter
// matches them: "*" is exactly one segment, "#" zero or more.
func keyPattern(key string) string {
	segs := strings.Split(key, ".")
	var b strings.Builder
	b.WriteString("^")
	needDot := false // a segment was written: the next one starts with a dot
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "#" && last && i > 0:
			b.WriteString(`(?:\.[^.]+)*`)
		case seg == "#" && last:
			b.WriteString(`(?:[^.]+(?:\.[^.]+)*)?`)
		case seg == "#":
			if needDot {
				b.WriteString(`\.`)
			}
			b.WriteString(`(?:[^.]+\.)*`) // ends with a dot, or matches nothing
			needDot = false
		default:
			if needDot {
				b.WriteString(`\.`)
			}
			if seg == "*" {
				b.WriteString(`[^.]+`)
			} else {
				b.WriteString(regexp.QuoteMeta(seg))
			}
			needDot = true
		}
	}
	b.WriteString("$")
	return b.String()
}

func hasWildcard(key string) bool {
	for _, seg := range strings.Split(key, ".") {
		if seg == "*" || seg == "#" {
			return true
		}
	}
	return false
}
