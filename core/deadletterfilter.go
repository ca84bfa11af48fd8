package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// DeadLetterFilter selects dead letters; every field that is set must
// match. The zero filter matches all.
type DeadLetterFilter struct {
	// Kinds matches dead letters of any of these kinds (HeaderDLTErrorKind).
	Kinds []string
	// Error matches dead letters whose error text contains it, ignoring case.
	Error string
	// Events matches dead letters whose event's routing key matches any of
	// these patterns, with the rules of EventRouter binds: "*" is exactly
	// one segment, "#" zero or more ("order.*", "order.#"). A dead letter
	// whose value is not an event matches no pattern.
	Events []string
	// Since and Until bound when the record was dead-lettered (its
	// timestamp): Since <= t < Until. Zero values do not bound.
	Since, Until time.Time
	// CorrelationID matches the event's correlation ID, the record key or
	// the kafka_correlationId header.
	CorrelationID string
}

// Validate reports the first invalid event pattern.
func (f DeadLetterFilter) Validate() error {
	_, err := f.compile()
	return err
}

// Match reports whether d passes the filter. An invalid filter matches nothing.
func (f DeadLetterFilter) Match(d *DeadLetter) bool {
	c, err := f.compile()
	return err == nil && c.match(d)
}

// IsZero reports whether the filter matches every dead letter.
func (f DeadLetterFilter) IsZero() bool {
	return len(f.Kinds) == 0 && f.Error == "" && len(f.Events) == 0 && f.Since.IsZero() && f.Until.IsZero() && f.CorrelationID == ""
}

type compiledFilter struct {
	f      DeadLetterFilter
	errLow string
	events []*EventRouter // one router per pattern, as a bind would match
}

func (f DeadLetterFilter) compile() (*compiledFilter, error) {
	c := &compiledFilter{f: f, errLow: strings.ToLower(f.Error)}
	nop := func(context.Context, *EventObject) error { return nil }
	for _, p := range f.Events {
		segs := strings.Split(p, ".")
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("kafka-broker: event pattern %q: empty segment", p)
			}
		}
		root := NewEventRouter("filter")
		r := root
		for _, s := range segs[:len(segs)-1] {
			child := NewEventRouter(s)
			r.IncludeBinder(child)
			r = child
		}
		r.BindEvent(segs[len(segs)-1], nop)
		c.events = append(c.events, root)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, fmt.Errorf("kafka-broker: filter: since (%s) is not before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return c, nil
}

func (c *compiledFilter) match(d *DeadLetter) bool {
	f := c.f
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, d.Kind) {
		return false
	}
	if c.errLow != "" && !strings.Contains(strings.ToLower(d.Error), c.errLow) {
		return false
	}
	if !f.Since.IsZero() && d.Timestamp.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !d.Timestamp.Before(f.Until) {
		return false
	}
	if f.CorrelationID != "" && f.CorrelationID != d.CorrelationID && f.CorrelationID != d.Key && !hasHeader(d.headers, HeaderCorrelationID, f.CorrelationID) {
		return false
	}
	if len(c.events) > 0 {
		name := d.EventName()
		if name == "" {
			return false
		}
		ok := false
		for _, r := range c.events {
			if _, ok = r.Match(name); ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func hasHeader(hs []kafka.Header, key, value string) bool {
	for _, h := range hs {
		if h.Key == key && string(h.Value) == value {
			return true
		}
	}
	return false
}
