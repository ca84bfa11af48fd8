package httpinteg

import (
	"context"
	"errors"
	"testing"
)

func TestRunChecks(t *testing.T) {
	t.Parallel()
	ok := Check{"a", func(context.Context) error { return nil }}
	bad := Check{"b", func(context.Context) error { return errors.New("down") }}
	if status, rep := runChecks(context.Background(), []Check{ok}); status != 200 || rep.Status != StatusReady || rep.Checks["a"] != CheckOK {
		t.Errorf("all ok: %d %+v", status, rep)
	}
	if status, rep := runChecks(context.Background(), []Check{ok, bad}); status != 503 || rep.Status != StatusNotReady ||
		rep.Checks["a"] != CheckOK || rep.Checks["b"] != "down" {
		t.Errorf("one failing: %d %+v", status, rep)
	}
}
