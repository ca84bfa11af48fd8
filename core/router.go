package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// HandlerFunc handles one event. A returned error is retried and then
// dead-lettered by the Manager; wrap it with Permanent to skip the retries.
// The ctx carries the Manager (FromContext) so handlers can Reply. It ends
// when the consumer gives up on the handler (context.Cause is then
// ErrHandlerAbandoned) and, like an HTTP request's, once the handler's
// partition stops being handled here (a rebalance, Close): work that
// outlives the handler needs a ctx of its own.
type HandlerFunc func(ctx context.Context, ev *EventObject) error

// Middleware wraps a HandlerFunc. See EventRouter.Use for the order.
type Middleware func(HandlerFunc) HandlerFunc

// Chain composes middlewares so that the first is the outermost:
// Chain(a, b)(h) runs a, then b, then h.
func Chain(mw ...Middleware) Middleware {
	return func(h HandlerFunc) HandlerFunc {
		for i := len(mw) - 1; i >= 0; i-- {
			h = mw[i](h)
		}
		return h
	}
}

// EventRouter dispatches events by their dotted routing key ("test.return")
// to handlers, through nested routers, like the Python package's EventRouter.
//
// Routing: the key is split at dots. The first segment is looked up among the
// router's binds; a handler runs when it is the last segment, a router
// continues with the rest of the key. Beyond the Python package, a bind may be
// "*" (exactly one segment) or "#" (zero or more segments), as in RabbitMQ
// topic exchanges; an exact bind always wins over "*", and "*" over "#".
//
// Binds are set up before use; ExecuteEvent is safe for concurrent use.
type EventRouter struct {
	name string

	mu       sync.RWMutex
	handlers map[string]HandlerFunc
	children map[string]*EventRouter
	mw       []Middleware
	types    map[string]routeTypes // binds of HandleEvent and OnEvent (router_walk.go)
}

// NewEventRouter returns an empty router. name is the segment under which the
// router is bound when included in another one.
func NewEventRouter(name string) *EventRouter {
	return &EventRouter{
		name:     name,
		handlers: make(map[string]HandlerFunc),
		children: make(map[string]*EventRouter),
	}
}

// Name is the segment this router is bound under when included.
func (r *EventRouter) Name() string { return r.name }

// BindEvent binds h to the segment name ("return", "*" or "#"). It panics on
// an invalid name, a nil handler, or a name already bound in this router, as
// http.ServeMux does for duplicate patterns.
func (r *EventRouter) BindEvent(name string, h HandlerFunc) {
	if h == nil {
		panic(fmt.Sprintf("kafka-broker: router %q: nil handler for %q", r.name, name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNameLocked(name)
	r.handlers[name] = h
}

// IncludeBinder binds child under child's name. It panics on an invalid or
// duplicate name, on nil, and on a router included in itself or below itself.
func (r *EventRouter) IncludeBinder(child *EventRouter) {
	if child == nil {
		panic(fmt.Sprintf("kafka-broker: router %q: nil router included", r.name))
	}
	if child == r {
		panic(fmt.Sprintf("kafka-broker: router %q included in itself", r.name))
	}
	if child.reaches(r) {
		panic(fmt.Sprintf("kafka-broker: router %q: including %q would make a cycle", r.name, child.name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNameLocked(child.name)
	r.children[child.name] = child
}

// reaches reports whether target is r or a router below r.
func (r *EventRouter) reaches(target *EventRouter) bool {
	if r == target {
		return true
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, c := range r.children {
		if c.reaches(target) {
			return true
		}
	}
	return false
}

func (r *EventRouter) checkNameLocked(name string) {
	if name == "" || strings.Contains(name, ".") {
		panic(fmt.Sprintf("kafka-broker: router %q: invalid bind name %q (one non-empty segment without dots)", r.name, name))
	}
	if _, ok := r.handlers[name]; ok {
		panic(fmt.Sprintf("kafka-broker: router %q: %q is already bound to a handler", r.name, name))
	}
	if _, ok := r.children[name]; ok {
		panic(fmt.Sprintf("kafka-broker: router %q: %q is already bound to a router", r.name, name))
	}
}

// Use adds middleware around every handler this router reaches, its nested
// routers' included. Middlewares run in the order given, the first outermost;
// a parent router's middlewares run outside its children's.
func (r *EventRouter) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range mw {
		if m == nil {
			panic(fmt.Sprintf("kafka-broker: router %q: nil middleware", r.name))
		}
	}
	r.mw = append(r.mw, mw...)
}

// Bounds on routing keys: a longer key, or one with more segments, matches
// nothing (ErrNoRoute saying why). Event names are short in practice; the
// bounds keep a record with a megabyte-long event name from costing more
// than its decoding.
const (
	MaxRoutingKeyBytes    = 1024
	MaxRoutingKeySegments = 128
)

// ExecuteEvent runs the handler that ev.Event routes to and returns its error
// unchanged. It returns an error wrapping ErrNoRoute when nothing matches,
// the key is empty, has an empty segment, or is longer than the bounds.
func (r *EventRouter) ExecuteEvent(ctx context.Context, ev *EventObject) error {
	if ev == nil {
		return fmt.Errorf("%w: nil event", ErrNoRoute)
	}
	h, err := r.route(ev.Event)
	if err != nil {
		return fmt.Errorf("%w in router %q", err, r.name)
	}
	return h(ctx, ev)
}

// Match returns the handler, wrapped in its middlewares, that key routes to.
func (r *EventRouter) Match(key string) (HandlerFunc, bool) {
	h, err := r.route(key)
	return h, err == nil
}

// route is Match saying why nothing matched, with an error wrapping ErrNoRoute.
func (r *EventRouter) route(key string) (HandlerFunc, error) {
	switch {
	case key == "":
		return nil, fmt.Errorf("%w: empty routing key", ErrNoRoute)
	case len(key) > MaxRoutingKeyBytes:
		return nil, fmt.Errorf("%w: routing key of %d bytes (at most %d)", ErrNoRoute, len(key), MaxRoutingKeyBytes)
	case strings.Count(key, ".") >= MaxRoutingKeySegments:
		return nil, fmt.Errorf("%w: routing key of more than %d segments", ErrNoRoute, MaxRoutingKeySegments)
	}
	var segs [16]string
	parts := splitKey(key, segs[:0])
	if parts == nil {
		return nil, fmt.Errorf("%w %q: empty segment", ErrNoRoute, key)
	}
	var chain [8]*EventRouter
	s := matcher{segs: parts}
	if h, ok := s.match(r, 0, chain[:0]); ok {
		return h, nil
	}
	return nil, fmt.Errorf("%w %q", ErrNoRoute, key)
}

// splitKey splits at dots without allocating for short keys; nil on an empty segment.
func splitKey(key string, dst []string) []string {
	for {
		i := strings.IndexByte(key, '.')
		if i < 0 {
			if key == "" {
				return nil
			}
			return append(dst, key)
		}
		if i == 0 {
			return nil
		}
		dst = append(dst, key[:i])
		key = key[i+1:]
	}
}

// matcher finds the handler for one routing key. It walks the tree
// depth-first, exact before "*" before "#", and remembers where it failed,
// so that no router is searched twice from the same segment: a match takes
// time linear in the key's segments for any tree of routers, nested "#"
// routers and routers included in several places among them.
type matcher struct {
	segs []string
	// failed: (router, segment) pairs known to match nothing; hashFrom: for
	// a router bound as "#", the first segment from which on every start is
	// known to fail. Allocated at the first failure.
	failed   map[matchState]struct{}
	hashFrom map[*EventRouter]int
	steps    int // routers tried, for tests
}

func (s *matcher) remember() {
	if s.failed == nil {
		s.failed = make(map[matchState]struct{})
		s.hashFrom = make(map[*EventRouter]int)
	}
}

type matchState struct {
	r *EventRouter
	i int
}

// match routes segs[i:] in r; path holds the routers above r.
func (s *matcher) match(r *EventRouter, i int, path []*EventRouter) (HandlerFunc, bool) {
	if s.failed != nil {
		if _, ok := s.failed[matchState{r, i}]; ok {
			return nil, false
		}
	}
	if h, ok := s.try(r, i, path); ok {
		return h, true
	}
	s.remember()
	s.failed[matchState{r, i}] = struct{}{}
	return nil, false
}

func (s *matcher) try(r *EventRouter, i int, path []*EventRouter) (HandlerFunc, bool) {
	s.steps++
	r.mu.RLock()
	defer r.mu.RUnlock()
	path = append(path, r)
	rest := len(s.segs) - i
	if rest == 0 {
		// Only "#" matches zero remaining segments.
		if h, ok := r.handlers["#"]; ok {
			return wrap(h, path), true
		}
		if c, ok := r.children["#"]; ok {
			return s.match(c, i, path)
		}
		return nil, false
	}
	seg := s.segs[i]
	for _, name := range [2]string{seg, "*"} {
		if name == "*" && seg == "*" {
			continue
		}
		if rest == 1 {
			if h, ok := r.handlers[name]; ok {
				return wrap(h, path), true
			}
		}
		if c, ok := r.children[name]; ok {
			if h, ok := s.match(c, i+1, path); ok {
				return h, true
			}
		}
	}
	if h, ok := r.handlers["#"]; ok {
		return wrap(h, path), true
	}
	if c, ok := r.children["#"]; ok {
		return s.matchHash(c, i, path)
	}
	return nil, false
}

// matchHash tries c, bound as "#", on segs[j:] for j from i on: "#" takes
// zero or more segments, the fewest first.
func (s *matcher) matchHash(c *EventRouter, i int, path []*EventRouter) (HandlerFunc, bool) {
	end := len(s.segs) + 1
	if s.hashFrom != nil {
		if k, ok := s.hashFrom[c]; ok {
			end = k
		}
	}
	for j := i; j < end; j++ {
		if h, ok := s.match(c, j, path); ok {
			return h, true
		}
	}
	s.remember()
	if k, ok := s.hashFrom[c]; !ok || i < k {
		s.hashFrom[c] = i
	}
	return nil, false
}

func wrap(h HandlerFunc, path []*EventRouter) HandlerFunc {
	for i := len(path) - 1; i >= 0; i-- {
		mw := path[i].mw
		for j := len(mw) - 1; j >= 0; j-- {
			h = mw[j](h)
		}
	}
	return h
}
