package cli_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

type orderIn struct {
	Customer string      `json:"customer" validate:"required,email"`
	Lines    []orderLine `json:"lines" validate:"required,min=1,dive"`
}

type orderLine struct {
	SKU string `json:"sku" validate:"required" jsonschema:"description=Stock keeping unit"`
	Qty int    `json:"qty" validate:"min=1"`
}

type orderOut struct {
	ID int `json:"id"`
}

func TestDocs(t *testing.T) {
	orders := core.NewEventRouter("orders")
	core.HandleEvent(orders, "create", func(context.Context, orderIn) (orderOut, error) { return orderOut{}, nil })
	core.OnEvent(orders, "cancelled", func(context.Context, orderOut) error { return nil })
	orders.BindEvent("*", func(context.Context, *core.EventObject) error { return nil })
	m := startResponder(t, orders) // a running service...
	srv := httptest.NewServer(asyncapi.NewDocs(m, asyncapi.WithInfo(asyncapi.Info{Title: "Orders", Version: "2.1.0"})))
	t.Cleanup(srv.Close) // ...serving its document

	loc := m.Config().Location
	want := []string{
		"Orders 2.1.0 (AsyncAPI 3.0.0)",
		"Topic " + loc + " (dead letters: " + loc + ".dlq)",
		"  orders.*  untyped\n    data: any JSON (not described)",
		"  orders.cancelled  event\n    data: orderOut\n      id ",
		"  orders.create  request/reply\n    data: orderIn\n",
		`customer\s+string \(email\)\s+required`,
		`lines\s+array of orderLine\s+required\s+items ≥ 1`,
		`lines\[\]\.sku\s+string\s+required\s+Stock keeping unit`,
		`lines\[\]\.qty\s+integer\s+≥ 1`,
		"    reply: orderOut\n      id  ",
	}
	check := func(t *testing.T, r result) {
		t.Helper()
		if r.code != cli.ExitOK {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		for _, w := range want {
			if !regexp.MustCompile(regexp.QuoteMeta(w)).MatchString(r.stdout) && !regexp.MustCompile(w).MatchString(r.stdout) {
				t.Errorf("output lacks %q:\n%s", w, r.stdout)
			}
		}
	}
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + "/docs", srv.URL + "/asyncapi.json"} {
		t.Run(u, func(t *testing.T) { check(t, run(t, nil, "docs", u)) })
	}

	// The same document from a file, and from stdin.
	r := run(t, nil, "docs", srv.URL, "--format", "json")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, `"asyncapi": "3.0.0"`) {
		t.Fatalf("--format json: %d %s", r.code, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "asyncapi.json")
	if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("file", func(t *testing.T) { check(t, run(t, nil, "docs", file)) })
	t.Run("stdin", func(t *testing.T) {
		c := newCmd(t, nil)
		c.stdin = r.stdout
		check(t, c.run(context.Background(), "docs", "-"))
	})

	notAsyncAPI := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(notAsyncAPI, []byte(`{"openapi":"3.1.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	errs := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"docs"}, cli.ExitUsage, "missing arguments"},
		{[]string{"docs", srv.URL, "--format", "yaml"}, cli.ExitUsage, "--format"},
		{[]string{"docs", "http://" + kafkatest.ClosedAddr(t)}, cli.ExitError, "cannot fetch"},
		{[]string{"docs", srv.URL + "/nothing.json"}, cli.ExitError, "404"},
		{[]string{"docs", notAsyncAPI}, cli.ExitError, "not an AsyncAPI 3 document"},
		{[]string{"docs", filepath.Join(t.TempDir(), "missing.json")}, cli.ExitError, "no such file"},
	}
	for _, e := range errs {
		t.Run(strings.Join(e.args, " "), func(t *testing.T) {
			r := run(t, nil, e.args...)
			if r.code != e.code || !strings.Contains(r.stderr, e.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, e.code, e.want)
			}
		})
	}
}
