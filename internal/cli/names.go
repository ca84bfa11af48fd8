package cli

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// TempPrefix starts the names of the topics `request` creates for itself
// and deletes afterwards: kafka-broker-cli-<UTC time>-<8 hex digits>.replies,
// the time being when the command started (20261201T124501Z). Such a topic
// can only outlive its command when the command was killed, or when a
// client that auto-creates topics (not this library's) wrote to it after it
// was deleted: a janitor may delete the topics matching TempTopicPattern
// whose time is older than the longest --timeout in use.
const TempPrefix = "kafka-broker-cli-"

// TempTopicPattern matches the names of the topics `request` creates.
const TempTopicPattern = `^kafka-broker-cli-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}(\.replies)?$`

// tempName returns a name of the TempTopicPattern family, without the
// .replies suffix, for a command started at now.
func tempName(now time.Time) string {
	b := make([]byte, 4)
	_, _ = io.ReadFull(rand.Reader, b)
	return TempPrefix + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// randomName returns prefix followed by 8 random hex digits.
func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = io.ReadFull(rand.Reader, b)
	return prefix + hex.EncodeToString(b)
}

func checkTopic(t string) error {
	if !core.ValidTopic(t) {
		return usagef("invalid topic name %q (letters, digits, '.', '_' and '-', at most 249)", t)
	}
	return nil
}

// eventRule is the rule for event names, as the help says it.
const eventRule = `An event name (routing key) is one or more non-empty segments separated by
dots ("order.created"), at most 1024 bytes and 128 segments, without white
space, control characters, or the wildcards "*" and "#" (those are for
--event patterns of tail and for binds).`

// checkEvent checks the routing key of an event to send: see eventRule.
func checkEvent(e string) error {
	return checkRoutingKey(e, false)
}

// checkPattern checks a --event pattern of tail: an event name whose
// segments may be the wildcards "*" and "#".
func checkPattern(p string) error {
	return checkRoutingKey(p, true)
}

func checkRoutingKey(k string, wildcards bool) error {
	what := "event name"
	if wildcards {
		what = "pattern"
	}
	switch {
	case k == "":
		return usagef("the %s is empty", what)
	case len(k) > core.MaxRoutingKeyBytes:
		return usagef("invalid %s: longer than %d bytes", what, core.MaxRoutingKeyBytes)
	case strings.Count(k, ".")+1 > core.MaxRoutingKeySegments:
		return usagef("invalid %s %q: more than %d segments", what, k, core.MaxRoutingKeySegments)
	}
	if !utf8.ValidString(k) {
		return usagef("invalid %s %q: not valid UTF-8", what, k)
	}
	for _, r := range k {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return usagef("invalid %s %q: white space or a control character (%U)", what, k, r)
		case !wildcards && (r == '*' || r == '#'):
			return usagef("invalid %s %q: %q is a wildcard of patterns, not part of a name", what, k, string(r))
		}
	}
	for _, seg := range strings.Split(k, ".") {
		if seg == "" {
			return usagef("invalid %s %q: empty segment", what, k)
		}
	}
	return nil
}
