package httpinteg

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTrackerAbandon(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	tr := newTracker(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		tr.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		done <- rec.Code
	}()
	<-entered
	if n := tr.inFlight(); n != 1 {
		t.Fatalf("in flight %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a handler running: %v", err)
	}
	tr.abandon()
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Errorf("code %d", code)
	}
	if err := tr.wait(context.Background()); err != nil {
		t.Errorf("wait after the handler returned: %v", err)
	}
}
