package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// HandlerFunc handles one event. A returned error is retried and then
// dead-lettered by the Manager; wrap it with Permanent to skip the retries.
// The ctx carries the Manager (FromContext) so handlers can Reply.
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
// duplicate name, on nil, and on a router included in itself.
func (r *EventRouter) IncludeBinder(child *EventRouter) {
	if child == nil {
		panic(fmt.Sprintf("kafka-broker: router %q: nil router included", r.name))
	}
	if child == r {
		panic(fmt.Sprintf("kafka-broker: router %q included in itself", r.name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNameLocked(child.name)
	r.children[child.name] = child
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

// ExecuteEvent runs the handler that ev.Event routes to and returns its error
// unchanged. It returns an error wrapping ErrNoRoute when nothing matches,
// the key is empty or has an empty segment.
func (r *EventRouter) ExecuteEvent(ctx context.Context, ev *EventObject) error {
	if ev == nil {
		return fmt.Errorf("%w: nil event", ErrNoRoute)
	}
	h, ok := r.Match(ev.Event)
	if !ok {
		return fmt.Errorf("%w %q in router %q", ErrNoRoute, ev.Event, r.name)
	}
	return h(ctx, ev)
}

// Match returns the handler, wrapped in its middlewares, that key routes to.
func (r *EventRouter) Match(key string) (HandlerFunc, bool) {
	if key == "" {
		return nil, false
	}
	var segs [16]string
	parts := splitKey(key, segs[:0])
	if parts == nil {
		return nil, false
	}
	var chain [8]*EventRouter
	return r.match(parts, chain[:0])
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

// match walks the tree depth-first, exact before "*" before "#", and wraps
// the found handler in the middlewares of the routers on its path.
func (r *EventRouter) match(segs []string, path []*EventRouter) (HandlerFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	path = append(path, r)
	if len(segs) == 0 {
		// Only "#" matches zero remaining segments.
		if h, ok := r.handlers["#"]; ok {
			return wrap(h, path), true
		}
		if c, ok := r.children["#"]; ok {
			return c.match(segs, path)
		}
		return nil, false
	}
	for _, name := range [2]string{segs[0], "*"} {
		if name == "*" && segs[0] == "*" {
			continue
		}
		if len(segs) == 1 {
			if h, ok := r.handlers[name]; ok {
				return wrap(h, path), true
			}
		}
		if c, ok := r.children[name]; ok {
			if h, ok := c.match(segs[1:], path); ok {
				return h, true
			}
		}
	}
	if h, ok := r.handlers["#"]; ok {
		return wrap(h, path), true
	}
	if c, ok := r.children["#"]; ok {
		for i := 0; i <= len(segs); i++ {
			if h, ok := c.match(segs[i:], path); ok {
				return h, true
			}
		}
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
