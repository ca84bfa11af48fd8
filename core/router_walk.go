package core

import (
	"reflect"
	"slices"
	"strings"
)

// RouteKind says what a bound handler does with an event.
type RouteKind string

// Kinds of routes.
const (
	// RouteUntyped is a HandlerFunc bound with BindEvent: it takes any data,
	// and whether it replies is not known.
	RouteUntyped RouteKind = "untyped"
	// RouteRequest is a handler bound with HandleEvent: it decodes the data
	// into In and replies with Out.
	RouteRequest RouteKind = "request"
	// RouteEvent is a handler bound with OnEvent: it decodes the data into In
	// and does not reply.
	RouteEvent RouteKind = "event"
)

// Route is a handler bound somewhere in a router tree, as Routes lists it.
type Route struct {
	// Key is the routing key below the router Routes was called on, its
	// binds joined by dots ("orders.create"); wildcard binds appear as they
	// were bound ("orders.*", "audit.#").
	Key  string
	Kind RouteKind
	// In is the type of the event's data, Out that of the reply's data; nil
	// when not known (Out is nil for RouteEvent, both for RouteUntyped).
	In, Out reflect.Type
}

// routeTypes is what HandleEvent and OnEvent record about a bind.
type routeTypes struct {
	kind    RouteKind
	in, out reflect.Type
}

// setRouteTypes records the types of the handler bound to name.
func (r *EventRouter) setRouteTypes(name string, t routeTypes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.types == nil {
		r.types = make(map[string]routeTypes)
	}
	r.types[name] = t
}

// Routes lists every handler r reaches, through its nested routers, sorted
// by key. It is what documentation generators (package asyncapi) read.
func (r *EventRouter) Routes() []Route {
	var out []Route
	r.routes("", &out, map[*EventRouter]bool{})
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (r *EventRouter) routes(prefix string, out *[]Route, seen map[*EventRouter]bool) {
	if seen[r] {
		return // a router included in its own subtree: listed once
	}
	seen[r] = true
	defer delete(seen, r)
	r.mu.RLock()
	for name := range r.handlers {
		rt := Route{Key: prefix + name, Kind: RouteUntyped}
		if t, ok := r.types[name]; ok {
			rt.Kind, rt.In, rt.Out = t.kind, t.in, t.out
		}
		*out = append(*out, rt)
	}
	children := make(map[string]*EventRouter, len(r.children))
	for name, c := range r.children {
		children[name] = c
	}
	r.mu.RUnlock()
	for name, c := range children {
		c.routes(prefix+name+".", out, seen)
	}
}
