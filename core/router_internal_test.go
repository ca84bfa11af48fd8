package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func nop(context.Context, *EventObject) error { return nil }

// Matching costs time linear in the key's segments for any tree: nested "#"
// routers used to take quadratic time (1.2 s for a key of 8,000 segments),
// and routers shared in several places exponential time.
func TestRouterMatchIsLinear(t *testing.T) {
	nested := func() *EventRouter {
		root := NewEventRouter("root")
		h1 := NewEventRouter("#")
		h2 := NewEventRouter("#")
		h2.BindEvent("z", nop)
		h1.IncludeBinder(h2)
		root.IncludeBinder(h1)
		return root
	}
	// diamond: level k reaches level k+1 both as "a" and as "*", so there are
	// 2^depth paths to the bottom.
	diamond := func() *EventRouter {
		const depth = 40
		next := NewEventRouter("*")
		next.BindEvent("z", nop)
		for range depth {
			a := NewEventRouter("a")
			star := NewEventRouter("*")
			for _, r := range []*EventRouter{a, star} {
				for name, c := range next.children {
					r.children[name] = c
				}
				for name, h := range next.handlers {
					r.handlers[name] = h
				}
			}
			level := NewEventRouter("level")
			level.children["a"], level.children["*"] = a, star
			next = level
		}
		root := NewEventRouter("root")
		root.children["a"], root.children["*"] = next.children["a"], next.children["*"]
		return root
	}
	tests := []struct {
		name   string
		root   *EventRouter
		key    string
		routed bool
		limit  int // routers tried at most
	}{
		{"nested # miss", nested(), strings.Repeat("x.", MaxRoutingKeySegments-1) + "y", false, 4 * (MaxRoutingKeySegments + 1)},
		{"nested # hit", nested(), strings.Repeat("x.", MaxRoutingKeySegments-1) + "z", true, 4 * (MaxRoutingKeySegments + 1)},
		{"diamond miss", diamond(), strings.Repeat("a.", 40) + "y", false, 8 * 42},
		{"diamond hit", diamond(), strings.Repeat("a.", 40) + "z", true, 8 * 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := matcher{segs: strings.Split(tt.key, ".")}
			_, ok := s.match(tt.root, 0, nil)
			if ok != tt.routed {
				t.Fatalf("routed %v, want %v", ok, tt.routed)
			}
			if s.steps > tt.limit {
				t.Fatalf("%d routers tried for %d segments, want at most %d", s.steps, len(s.segs), tt.limit)
			}
			t.Logf("%d routers tried for %d segments", s.steps, len(s.segs))
		})
	}
}

// naiveMatch is the plain depth-first search the matcher must agree with:
// exact before "*" before "#", "#" taking the fewest segments first.
func naiveMatch(r *EventRouter, segs []string) (HandlerFunc, bool) {
	if len(segs) == 0 {
		if h, ok := r.handlers["#"]; ok {
			return h, true
		}
		if c, ok := r.children["#"]; ok {
			return naiveMatch(c, segs)
		}
		return nil, false
	}
	for _, name := range []string{segs[0], "*"} {
		if name == "*" && segs[0] == "*" {
			continue
		}
		if h, ok := r.handlers[name]; ok && len(segs) == 1 {
			return h, true
		}
		if c, ok := r.children[name]; ok {
			if h, ok := naiveMatch(c, segs[1:]); ok {
				return h, true
			}
		}
	}
	if h, ok := r.handlers["#"]; ok {
		return h, true
	}
	if c, ok := r.children["#"]; ok {
		for i := 0; i <= len(segs); i++ {
			if h, ok := naiveMatch(c, segs[i:]); ok {
				return h, true
			}
		}
	}
	return nil, false
}

type routeName string

func (n routeName) Error() string { return string(n) }

// fuzzTree is a tree with nested "#" routers, "*" binds and a router
// included in two places; each handler returns its own name as an error.
func fuzzTree() *EventRouter {
	h := func(name string) HandlerFunc {
		return func(context.Context, *EventObject) error { return routeName(name) }
	}
	root := NewEventRouter("root")
	a := NewEventRouter("a")
	a.BindEvent("*", h("a.*"))
	a.BindEvent("b", h("a.b"))
	shared := NewEventRouter("s")
	shared.BindEvent("z", h("s.z"))
	shared.BindEvent("#", h("s.#"))
	a.IncludeBinder(shared)
	hash := NewEventRouter("#")
	hash.BindEvent("z", h("#.z"))
	inner := NewEventRouter("#")
	inner.BindEvent("c", h("#.#.c"))
	hash.IncludeBinder(inner)
	star := NewEventRouter("*")
	star.IncludeBinder(shared)
	star.BindEvent("b", h("*.b"))
	root.IncludeBinder(a)
	root.IncludeBinder(hash)
	root.IncludeBinder(star)
	return root
}

// FuzzRouterMatchesNaive checks that the linear matcher routes every key as
// the plain search does, long keys included.
func FuzzRouterMatchesNaive(f *testing.F) {
	for _, s := range []string{"ab", "zzz", "abszc", "a*b#", "", strings.Repeat("ac", 40), strings.Repeat("x", 200) + "c"} {
		f.Add(s)
	}
	alphabet := []string{"a", "b", "c", "s", "z", "x", "*"}
	root := fuzzTree()
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) == 0 || len(in) > MaxRoutingKeySegments {
			return
		}
		segs := make([]string, len(in))
		for i, c := range []byte(in) {
			segs[i] = alphabet[int(c)%len(alphabet)]
		}
		key := strings.Join(segs, ".")
		got, gotOK := root.Match(key)
		var want HandlerFunc
		wantOK := false
		if len(segs) <= 14 { // the plain search is exponential in the worst case
			want, wantOK = naiveMatch(root, segs)
		} else {
			wantOK = gotOK
			want = got
		}
		if gotOK != wantOK {
			t.Fatalf("key %q: matched %v, the plain search %v", key, gotOK, wantOK)
		}
		if gotOK {
			g, w := got(context.Background(), nil), want(context.Background(), nil)
			if !errors.Is(g, w) {
				t.Fatalf("key %q: routed to %v, the plain search to %v", key, g, w)
			}
		}
	})
}

func TestRouterKeyBounds(t *testing.T) {
	r := NewEventRouter("root")
	r.BindEvent("#", nop)
	tests := []struct {
		key  string
		want string // "" = routed
	}{
		{strings.Repeat("a", MaxRoutingKeyBytes), ""},
		{strings.Repeat("a", MaxRoutingKeyBytes+1), "routing key of 1025 bytes"},
		{strings.Repeat("a.", MaxRoutingKeySegments-1) + "a", ""},
		{strings.Repeat("a.", MaxRoutingKeySegments) + "a", "more than 128 segments"},
	}
	for _, tt := range tests {
		_, err := r.route(tt.key)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("key of %d bytes: %v", len(tt.key), err)
		case tt.want != "" && (!errors.Is(err, ErrNoRoute) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("key of %d bytes: error %v, want ErrNoRoute saying %q", len(tt.key), err, tt.want)
		}
	}
}

func TestRouterCycleRefused(t *testing.T) {
	a, b, c := NewEventRouter("a"), NewEventRouter("b"), NewEventRouter("c")
	a.IncludeBinder(b)
	b.IncludeBinder(c)
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "cycle") {
			t.Fatalf("panic %v, want one about a cycle", p)
		}
	}()
	c.IncludeBinder(a)
}
