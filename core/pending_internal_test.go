package core

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// A reply delivered while its Request gives up is returned, never lost.
func TestPendingRemoveRacingDeliver(t *testing.T) {
	p := newPendingRequests(0)
	for i := 0; i < 20000; i++ {
		id := fmt.Sprint(i)
		w, _ := p.add(id)
		var delivered, got bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); delivered = p.deliver(&EventObject{CorrelationID: id}) }()
		go func() { defer wg.Done(); _, got = p.remove(id, w) }()
		wg.Wait()
		if delivered && !got {
			t.Fatalf("iteration %d: deliver took the waiter but remove saw no reply", i)
		}
	}
}

func TestPendingClosedRefusesNewWaiters(t *testing.T) {
	p := newPendingRequests(0)
	p.closeAll()
	if _, err := p.add("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after closeAll = %v, want ErrClosed", err)
	}
}

// TestSentIDsForgetOldestFirst: the memory of sent IDs is bounded, forgets
// the oldest first, and keeps a re-added ID's newer kind.
func TestSentIDsForgetOldestFirst(t *testing.T) {
	s := newSentIDs(3)
	for _, id := range []string{"a", "b", "c"} {
		s.add(id, sentByProduce)
	}
	s.add("b", sentByRequest) // known: its kind changes, nothing is forgotten
	if k, ok := s.lookup("b"); !ok || k != sentByRequest {
		t.Fatalf("b = %v, %v; want sentByRequest", k, ok)
	}
	s.add("d", sentByRequest) // full: a, the oldest, goes
	s.add("e", sentByRequest) // then b
	for id, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true} {
		if _, ok := s.lookup(id); ok != want {
			t.Fatalf("lookup(%q) = %v, want %v", id, ok, want)
		}
	}
	if len(s.m) != 3 || len(s.ring) != 3 {
		t.Fatalf("holds %d IDs in a ring of %d, want 3", len(s.m), len(s.ring))
	}
}
