package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// record returns a handler that appends name to *got.
func record(name string, got *[]string, mu *sync.Mutex) core.HandlerFunc {
	return func(context.Context, *core.EventObject) error {
		mu.Lock()
		defer mu.Unlock()
		*got = append(*got, name)
		return nil
	}
}

func TestRouterMatch(t *testing.T) {
	var mu sync.Mutex
	var got []string
	root := core.NewEventRouter("module")
	test := core.NewEventRouter("test")
	test.BindEvent("return", record("test.return", &got, &mu))
	test.BindEvent("*", record("test.*", &got, &mu))
	root.IncludeBinder(test)

	orders := core.NewEventRouter("orders")
	orders.BindEvent("#", record("orders.#", &got, &mu))
	orders.BindEvent("created", record("orders.created", &got, &mu))
	root.IncludeBinder(orders)

	star := core.NewEventRouter("*")
	star.BindEvent("ping", record("*.ping", &got, &mu))
	root.IncludeBinder(star)

	audit := core.NewEventRouter("audit")
	deep := core.NewEventRouter("#")
	deep.BindEvent("done", record("audit.#.done", &got, &mu))
	audit.IncludeBinder(deep)
	root.IncludeBinder(audit)

	root.BindEvent("plain", record("plain", &got, &mu))

	tests := []struct {
		key  string
		want string // "" = ErrNoRoute
	}{
		{"test.return", "test.return"},
		{"test.other", "test.*"},
		{"test", ""},
		{"test.return.extra", ""},
		{"orders.created", "orders.created"},
		{"orders", "orders.#"},
		{"orders.a.b.c", "orders.#"},
		{"x.ping", "*.ping"},
		{"test.ping", "test.*"}, // exact "test" wins over "*"
		{"audit.done", "audit.#.done"},
		{"audit.a.b.done", "audit.#.done"},
		{"audit.a.b", ""},
		{"plain", "plain"},
		{"plain.x", ""},
		{"", ""},
		{"a..b", ""},
		{".test", ""},
		{"test.", ""},
		{"unknown", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			err := root.ExecuteEvent(context.Background(), &core.EventObject{Event: tt.key})
			if tt.want == "" {
				if !errors.Is(err, core.ErrNoRoute) {
					t.Fatalf("ExecuteEvent(%q) = %v, want ErrNoRoute", tt.key, err)
				}
				if len(got) != 0 {
					t.Fatalf("ExecuteEvent(%q) ran %v", tt.key, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExecuteEvent(%q) = %v", tt.key, err)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("ExecuteEvent(%q) ran %v, want %s", tt.key, got, tt.want)
			}
		})
	}
}

func TestRouterHandlerErrorUnchanged(t *testing.T) {
	sentinel := errors.New("boom")
	r := core.NewEventRouter("r")
	r.BindEvent("fail", func(context.Context, *core.EventObject) error { return sentinel })
	err := r.ExecuteEvent(context.Background(), &core.EventObject{Event: "fail"})
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want the handler's error itself", err)
	}
}

func TestRouterDuplicatePanics(t *testing.T) {
	h := func(context.Context, *core.EventObject) error { return nil }
	tests := []struct {
		name  string
		setup func(r *core.EventRouter)
		want  string
	}{
		{"handler twice", func(r *core.EventRouter) { r.BindEvent("a", h); r.BindEvent("a", h) }, `"a" is already bound to a handler`},
		{"router over handler", func(r *core.EventRouter) { r.BindEvent("a", h); r.IncludeBinder(core.NewEventRouter("a")) }, `"a" is already bound to a handler`},
		{"handler over router", func(r *core.EventRouter) { r.IncludeBinder(core.NewEventRouter("a")); r.BindEvent("a", h) }, `"a" is already bound to a router`},
		{"dotted name", func(r *core.EventRouter) { r.BindEvent("a.b", h) }, "invalid bind name"},
		{"empty name", func(r *core.EventRouter) { r.BindEvent("", h) }, "invalid bind name"},
		{"nil handler", func(r *core.EventRouter) { r.BindEvent("a", nil) }, "nil handler"},
		{"self include", func(r *core.EventRouter) { r.IncludeBinder(r) }, "included in itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("no panic")
				}
				if !strings.Contains(p.(string), tt.want) {
					t.Fatalf("panic %q, want it to contain %q", p, tt.want)
				}
			}()
			tt.setup(core.NewEventRouter("r"))
		})
	}
}

func TestRouterMiddlewareOrder(t *testing.T) {
	var order []string
	mw := func(name string) core.Middleware {
		return func(next core.HandlerFunc) core.HandlerFunc {
			return func(ctx context.Context, ev *core.EventObject) error {
				order = append(order, name+">")
				err := next(ctx, ev)
				order = append(order, "<"+name)
				return err
			}
		}
	}
	root := core.NewEventRouter("root")
	root.Use(mw("a"), mw("b"))
	child := core.NewEventRouter("child")
	child.Use(mw("c"))
	child.BindEvent("x", func(context.Context, *core.EventObject) error {
		order = append(order, "h")
		return nil
	})
	root.IncludeBinder(child)
	if err := root.ExecuteEvent(context.Background(), &core.EventObject{Event: "child.x"}); err != nil {
		t.Fatal(err)
	}
	want := "a> b> c> h <c <b <a"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	order = nil
	h := core.Chain(mw("1"), mw("2"))(func(context.Context, *core.EventObject) error { order = append(order, "h"); return nil })
	_ = h(context.Background(), nil)
	if got := strings.Join(order, " "); got != "1> 2> h <2 <1" {
		t.Fatalf("Chain order %q", got)
	}
}

func TestRouterConcurrentExecute(t *testing.T) {
	r := core.NewEventRouter("r")
	sub := core.NewEventRouter("a")
	var mu sync.Mutex
	n := 0
	sub.BindEvent("*", func(context.Context, *core.EventObject) error { mu.Lock(); n++; mu.Unlock(); return nil })
	r.IncludeBinder(sub)
	r.Use(func(next core.HandlerFunc) core.HandlerFunc { return next })
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				if err := r.ExecuteEvent(context.Background(), &core.EventObject{Event: "a.b"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n != 4000 {
		t.Fatalf("handled %d, want 4000", n)
	}
}

func FuzzRouterMatch(f *testing.F) {
	for _, s := range []string{"test.return", "a..b", "", "orders.#", "*.*", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"} {
		f.Add(s)
	}
	h := func(context.Context, *core.EventObject) error { return nil }
	root := core.NewEventRouter("root")
	a := core.NewEventRouter("a")
	a.BindEvent("*", h)
	a.BindEvent("b", h)
	hash := core.NewEventRouter("#")
	hash.BindEvent("z", h)
	root.IncludeBinder(a)
	root.IncludeBinder(hash)
	f.Fuzz(func(t *testing.T, key string) {
		err := root.ExecuteEvent(context.Background(), &core.EventObject{Event: key})
		if err != nil && !errors.Is(err, core.ErrNoRoute) {
			t.Fatalf("unexpected error %v", err)
		}
		if err == nil && (key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".")) {
			t.Fatalf("key %q matched", key)
		}
		if err == nil && !strings.HasSuffix(key, ".z") && key != "z" && !strings.HasPrefix(key, "a.") {
			t.Fatalf("key %q matched no bind", key)
		}
	})
}
