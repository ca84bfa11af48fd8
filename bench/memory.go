package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Scenario e): Go heap (runtime.MemStats.HeapAlloc after GC; librdkafka's C
// memory is not in it, and the embedded broker runs in another process).
//
// Per pending request: o.pending goroutines each call Request on a topic
// nobody answers; once all requests are acked by the broker and waiting,
// the heap grown since before, divided by o.pending. It counts everything a
// waiting request keeps alive, the caller's event included; not the
// caller's goroutine (its stack and g are the same for every side, and an
// unmeasured first round warms the runtime's pool of goroutines). The
// franz-go requester's records are Go memory until acked, so all sides are
// measured once every request is acked.
//
// Stored events: a fresh group reads o.stored events into the
// ConsumerStorage (library, no router) or a map by correlation ID (raw,
// franz-go); the heap grown from just before the consumer started, after
// GC. franz-go's own buffers are Go memory, librdkafka's are not: once all
// events are read and handled franz-go holds no fetched records, but a
// comparison of clients' memory needs more than the Go heap.
func runMemory(ctx context.Context, e *env, o *options) ([]*metric, error) {
	blackhole, storeTopic := e.name("blackhole"), e.name("store")
	libClient := e.name("mem-lib-client")
	topics := []string{blackhole, storeTopic, storeTopic + ".replies", storeTopic + ".dlq",
		libClient, libClient + ".replies", libClient + ".dlq"}
	for _, side := range []string{sideRaw, sideFranz} {
		topics = append(topics, e.name("mem", side, "client")+".replies")
	}
	if err := e.createTopics(ctx, topics...); err != nil {
		return nil, err
	}
	defer e.deleteTopics(topics...)
	rounds := min(o.rounds, o.memRounds)

	pending := newMetric("e) memory", "heap per pending request", "B").want("lib", "<=", 2048)
	if err := measurePendingRounds(ctx, e, o, rounds, blackhole, pending); err != nil {
		return nil, err
	}

	e.progress("memory: writing %d events", o.stored)
	if err := fill(ctx, e, storeTopic, o.stored, smallPayload); err != nil {
		return nil, err
	}
	stored := newMetric("e) memory", fmt.Sprintf("heap, %d stored events", o.stored), "MiB")
	var fixed []float64
	for i := range rounds {
		for _, side := range allSides {
			e.progress("memory: stored events, round %d/%d, %s", i+1, rounds, side)
			group := e.name("mem", side, "group", strconv.Itoa(i))
			var heap, fix float64
			var err error
			switch side {
			case sideLib:
				heap, fix, err = storedLib(ctx, e, storeTopic, group, o.stored)
				fixed = append(fixed, fix)
			case sideRaw:
				heap, err = storedHandwritten(ctx, o.stored, func() (service, error) {
					return newRawService(e, storeTopic, group, false, true)
				})
			case sideFranz:
				heap, err = storedHandwritten(ctx, o.stored, func() (service, error) {
					return newFranzService(e, storeTopic, group)
				})
			}
			if err != nil {
				return nil, fmt.Errorf("stored (%s): %w", side, err)
			}
			stored.add(side, heap/(1<<20))
		}
	}
	stored.finish()
	stored.Note = fmt.Sprintf("per stored event: library %.0f B, raw %.0f B, franz-go %.0f B; a Manager's own heap before consuming: %.1f MiB",
		stored.LibMedian*(1<<20)/float64(o.stored), stored.RawMedian*(1<<20)/float64(o.stored),
		stored.FranzMedian*(1<<20)/float64(o.stored), median(fixed)/(1<<20))
	return []*metric{pending, stored}, nil
}

func heapAfterGC() runtime.MemStats {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms
}

// pendingSide is how a side's pending requests are made and counted.
type pendingSide struct {
	request func(ctx context.Context) error
	ready   func() bool // every request started since reset is acked and pending
	reset   func()      // before a round
}

func measurePendingRounds(ctx context.Context, e *env, o *options, rounds int, blackhole string, out *metric) error {
	cfg := e.libConfig(e.name("mem-lib-client"))
	cfg.MaxPendingRequests = 2 * o.pending
	cfg.RequestTimeout = 5 * time.Minute
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := e.startManager(sctx, cfg, nil)
	if err != nil {
		return err
	}
	defer closeManager(m)
	raw, err := newRawRequester(sctx, e, e.name("mem", sideRaw, "client"), e.name("mem", sideRaw, "client")+".replies")
	if err != nil {
		return err
	}
	defer raw.close()
	franz, err := newFranzRequester(sctx, e, e.name("mem", sideFranz, "client"), e.name("mem", sideFranz, "client")+".replies")
	if err != nil {
		return err
	}
	defer franz.close()

	var libBase uint64
	sides := map[string]pendingSide{
		sideLib: {
			request: func(ctx context.Context) error {
				ev, err := core.NewEventObject(echoEvent, smallPayload)
				if err != nil {
					return err
				}
				_, err = m.Request(ctx, blackhole, ev)
				return err
			},
			ready: func() bool { s := m.Stats(); return s.Pending == o.pending && s.Produced-libBase == uint64(o.pending) },
			reset: func() { libBase = m.Stats().Produced },
		},
		sideRaw:   handwrittenPending(raw, blackhole, o.pending),
		sideFranz: handwrittenPending(franz, blackhole, o.pending),
	}
	// Round 0 is a warm-up: it fills the runtime's pool of goroutines.
	for i := 0; i <= rounds; i++ {
		if i > 0 {
			e.progress("memory: pending requests, round %d/%d", i, rounds)
		}
		for _, side := range allSides {
			s := sides[side]
			s.reset()
			heap, err := pendingHeap(ctx, o.pending, s.request, s.ready)
			if err != nil {
				return fmt.Errorf("pending (%s): %w", side, err)
			}
			if i > 0 {
				out.add(side, heap)
			}
		}
	}
	return nil
}

// handwrittenPending makes pending requests with r to topic, nobody's.
func handwrittenPending(r requester, topic string, pending int) pendingSide {
	var sent atomic.Int64
	var base int64
	return pendingSide{
		request: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // the library's RequestTimeout does the same
			defer cancel()
			_, err := r.requestCounting(ctx, topic, echoEvent, smallPayload, &sent)
			return err
		},
		ready: func() bool { return r.pendingLen() == pending && sent.Load()-base == int64(pending) },
		reset: func() { base = sent.Load() },
	}
}

// pendingHeap starts k requests, waits until ready, and returns the heap
// grown per request.
func pendingHeap(ctx context.Context, k int, fn func(context.Context) error, ready func() bool) (float64, error) {
	before := heapAfterGC()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range k {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fn(rctx) }()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !ready() {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d requests not all pending after 2m", k)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // delivery reports drained
	after := heapAfterGC()
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(k), nil
}

// storedLib returns the heap grown by n events in a Manager's storage, and
// the heap of the Manager itself before it consumed.
func storedLib(ctx context.Context, e *env, topic, group string, n int) (heap, fixed float64, err error) {
	cfg := e.libConfig(topic)
	cfg.GroupID = group
	cfg.StorageMaxEvents = 2 * n
	cfg.DisableDeadLetter = true
	before := heapAfterGC()
	m, err := core.NewManager(cfg, core.WithLogger(e.log))
	if err != nil {
		return 0, 0, err
	}
	defer closeManager(m)
	created := heapAfterGC()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := m.InitConsumer(sctx); err != nil {
		return 0, 0, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for m.Stats().Stored < uint64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, 0, fmt.Errorf("stored (library): %d of %d", m.Stats().Stored, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := heapAfterGC()
	if got := m.ConsumerStorage().Len(); got != n {
		return 0, 0, fmt.Errorf("stored (library): storage holds %d, want %d", got, n)
	}
	return float64(after.HeapAlloc) - float64(created.HeapAlloc), float64(created.HeapAlloc) - float64(before.HeapAlloc), nil
}

// storedHandwritten returns the heap grown by n events read by a fresh
// service into a map by correlation ID.
func storedHandwritten(ctx context.Context, n int, newService func() (service, error)) (float64, error) {
	var (
		mu    sync.Mutex
		store = make(map[string]*rawEvent)
		count atomic.Int64
	)
	s, err := newService()
	if err != nil {
		return 0, err
	}
	defer s.close()
	s.on(producedEvent, func(ev *rawEvent, _ []byte) error {
		mu.Lock()
		store[ev.CorrelationID] = ev
		mu.Unlock()
		count.Add(1)
		return nil
	})
	created := heapAfterGC()
	if err := s.start(); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for count.Load() < int64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("%d of %d", count.Load(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after := heapAfterGC()
	mu.Lock()
	got := len(store)
	mu.Unlock()
	if got != n {
		return 0, fmt.Errorf("map holds %d, want %d", got, n)
	}
	return float64(after.HeapAlloc) - float64(created.HeapAlloc), nil
}
