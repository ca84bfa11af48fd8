package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func testStorage(maxEvents int, maxAge time.Duration) (*ConsumerStorage, *[]string, func(time.Duration)) {
	return testStorageLimits(storageLimits{maxEvents: maxEvents, maxAge: maxAge}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func testStorageLimits(limits storageLimits, log *slog.Logger) (*ConsumerStorage, *[]string, func(time.Duration)) {
	var mu sync.Mutex
	var evicted []string
	s := newConsumerStorage(limits, log, func(ev *EventObject) {
		mu.Lock()
		evicted = append(evicted, ev.CorrelationID)
		mu.Unlock()
	})
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	s.log.now = s.now
	return s, &evicted, func(d time.Duration) { now = now.Add(d) }
}

func ev(id string) *EventObject {
	return &EventObject{CorrelationID: id, Event: "e", Data: emptyObject}
}

func TestStorageBoundByCount(t *testing.T) {
	s, evicted, _ := testStorage(3, 0)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		s.put(ev(id), 100)
	}
	if s.Len() != 3 || s.Evicted() != 2 {
		t.Fatalf("len %d evicted %d, want 3 and 2", s.Len(), s.Evicted())
	}
	if len(*evicted) != 2 || (*evicted)[0] != "a" || (*evicted)[1] != "b" {
		t.Fatalf("evicted %v, want oldest first [a b]", *evicted)
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("evicted event still there")
	}
	if _, ok := s.Get("e"); !ok {
		t.Fatal("newest event missing")
	}
}

func TestStorageBoundByAge(t *testing.T) {
	s, evicted, advance := testStorage(0, time.Minute)
	s.put(ev("old"), 100)
	advance(30 * time.Second)
	s.put(ev("young"), 100)
	advance(31 * time.Second)
	if !s.Poll() || s.Len() != 1 {
		t.Fatalf("len %d, want 1 (old expired)", s.Len())
	}
	if len(*evicted) != 1 || (*evicted)[0] != "old" || s.Evicted() != 1 {
		t.Fatalf("evicted %v", *evicted)
	}
	advance(time.Minute)
	if s.Poll() {
		t.Fatal("Poll true after everything expired")
	}
}

func TestStorageConsume(t *testing.T) {
	s, _, _ := testStorage(10, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Stored before the call: found at once and removed.
	s.put(ev("before"), 100)
	got, err := s.Consume(ctx, "before")
	if err != nil || got.CorrelationID != "before" || s.Len() != 0 {
		t.Fatalf("Consume(before) = %v, %v; len %d", got, err, s.Len())
	}

	// Arriving after the call: handed over, never stored.
	done := make(chan *EventObject)
	go func() {
		e, err := s.Consume(ctx, "after")
		if err != nil {
			t.Error(err)
		}
		done <- e
	}()
	for !s.hasWaiter("after") {
		time.Sleep(time.Millisecond) // no signal for "goroutine is blocked"; bounded by ctx
		if ctx.Err() != nil {
			t.Fatal("waiter never registered")
		}
	}
	s.put(ev("other"), 100)
	s.put(ev("after"), 100)
	if e := <-done; e.CorrelationID != "after" {
		t.Fatalf("got %s", e.CorrelationID)
	}
	if s.Len() != 1 {
		t.Fatalf("len %d, want only 'other' stored", s.Len())
	}

	// Cancelled: ctx error, waiter gone.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := s.Consume(cctx, "never"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if s.waiting() != 0 {
		t.Fatalf("%d waiters left", s.waiting())
	}
}

func TestStorageReceiveAndConsumeAll(t *testing.T) {
	s, _, _ := testStorage(10, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- s.Receive(ctx) }()
	s.put(ev("x"), 100)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(ctx); err != nil { // at once when not empty
		t.Fatal(err)
	}
	s.put(ev("y"), 100)
	all := s.ConsumeAll()
	if len(all) != 2 || all["x"] == nil || all["y"] == nil || s.Len() != 0 || s.Poll() {
		t.Fatalf("ConsumeAll = %v, len after %d", all, s.Len())
	}
	if s.Remove("z") {
		t.Fatal("Remove of a missing ID reported true")
	}
	s.put(ev("z"), 100)
	if !s.Remove("z") || s.Len() != 0 {
		t.Fatal("Remove failed")
	}
}

func TestStorageCloseWakesWaiters(t *testing.T) {
	s, _, _ := testStorage(10, time.Hour)
	errs := make(chan error, 2)
	go func() { _, err := s.Consume(context.Background(), "x"); errs <- err }()
	go func() { errs <- s.Receive(context.Background()) }()
	for s.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.close()
	for i := 0; i < 2; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	}
}

// A Consume registering while put runs never misses the event.
func TestStoragePutRacingConsume(t *testing.T) {
	s, _, _ := testStorage(0, 0)
	for i := 0; i < 20000; i++ {
		id := fmt.Sprint(i)
		var wg sync.WaitGroup
		wg.Add(2)
		var err error
		go func() { defer wg.Done(); s.put(ev(id), 100) }()
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = s.Consume(ctx, id)
		}()
		wg.Wait()
		if err != nil {
			_, stored := s.Get(id)
			t.Fatalf("iteration %d: Consume = %v while the event is stored=%v", i, err, stored)
		}
	}
}

// The byte bound counts each event's record size; the oldest events go
// first, and a flood of evictions is logged once a second with a count.
func TestStorageBoundByBytes(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, evicted, advance := testStorageLimits(storageLimits{maxBytes: 1000}, log)
	for i := range 10 {
		s.put(ev(fmt.Sprint("a", i)), 300) // 3 fit
	}
	if s.Len() != 3 || s.Bytes() != 900 || s.Evicted() != 7 {
		t.Fatalf("len %d bytes %d evicted %d, want 3, 900, 7", s.Len(), s.Bytes(), s.Evicted())
	}
	if (*evicted)[0] != "a0" || (*evicted)[6] != "a6" {
		t.Fatalf("evicted %v, want oldest first", *evicted)
	}
	if n := strings.Count(logs.String(), "evicted events"); n != 1 {
		t.Fatalf("%d eviction lines for 7 evictions within a second, want 1:\n%s", n, logs.String())
	}
	advance(time.Second)
	s.put(ev("big"), 5000) // larger than the bound: evicted at once, with the rest
	if s.Len() != 0 || s.Bytes() != 0 || s.Evicted() != 11 {
		t.Fatalf("len %d bytes %d evicted %d after an oversized event, want 0, 0, 11", s.Len(), s.Bytes(), s.Evicted())
	}
	if !strings.Contains(logs.String(), "suppressed=6") {
		t.Fatalf("second eviction line does not count the 6 held back:\n%s", logs.String())
	}
	// Consume, Remove and ConsumeAll give the bytes back.
	s.put(ev("x"), 100)
	s.put(ev("y"), 200)
	s.put(ev("z"), 300)
	if _, err := s.Consume(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	s.Remove("y")
	if s.Bytes() != 300 {
		t.Fatalf("bytes %d after Consume and Remove, want 300", s.Bytes())
	}
	s.put(ev("z"), 50) // replaces z
	if s.Bytes() != 50 {
		t.Fatalf("bytes %d after replacing z, want 50", s.Bytes())
	}
	s.ConsumeAll()
	if s.Bytes() != 0 {
		t.Fatalf("bytes %d after ConsumeAll", s.Bytes())
	}
}
