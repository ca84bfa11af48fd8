package core

import (
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
	if _, err := p.add("x"); err != ErrClosed {
		t.Fatalf("add after closeAll = %v, want ErrClosed", err)
	}
}
