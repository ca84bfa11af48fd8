package core_test

import (
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// A broker refuses a whole batch that exceeds the topic's max.message.bytes,
// and librdkafka fails every record in it. Records that fit the topic on
// their own, refused only for sharing a batch with one too large, are sent
// again and written; the one too large fails with the brokers' size error.
// Through ProduceAsync and Produce both, on a topic of 64 KiB (the
// library's producer compresses: the large record's data does not).
func TestRecordsRefusedWithTheirBatchAreSentAgain(t *testing.T) {
	t.Parallel()
	m := startManager(t, kafkatest.Config(t, "svc"))
	topic := kafkatest.Name(t, "small")
	kafkatest.CreateTopicWithConfig(t, topic, 1, map[string]string{"max.message.bytes": "65536"})
	const n = 300
	big, _ := core.NewEventObject("big", map[string]string{"pad": noise(80_000)})
	ids := map[string]bool{}
	var mu sync.Mutex
	errs := map[string]error{}
	note := func(id string) func(error) {
		return func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errs[id] = err
		}
	}
	ctx := kafkatest.Context(t, 60*time.Second)
	var wg sync.WaitGroup
	for i := range n {
		ev, _ := core.NewEventObject("small", map[string]int{"i": i})
		ids[ev.CorrelationID] = true
		if i%3 == 0 { // some through Produce, from goroutines: they share batches too
			wg.Add(1)
			go func() { defer wg.Done(); note(ev.CorrelationID)(m.Produce(ctx, topic, ev)) }()
			continue
		}
		if err := m.ProduceAsync(ctx, topic, ev, note(ev.CorrelationID)); err != nil {
			t.Fatal(err)
		}
		if i == n/2+1 {
			if err := m.ProduceAsync(ctx, topic, big, note(big.CorrelationID)); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range ids {
		if err := errs[id]; err != nil {
			t.Fatalf("a record that fits the topic failed: %v", err)
		}
	}
	if err := errs[big.CorrelationID]; err == nil || !strings.Contains(err.Error(), "too large") ||
		strings.Contains(err.Error(), "batch") {
		t.Fatalf("the record too large for the topic: %v, want the brokers' size error", err)
	}
	counts := countKeys(t, topic, "read_committed", 60*time.Second, func(c map[string]int) bool { return len(c) >= n })
	for id := range ids {
		if counts[id] != 1 {
			t.Fatalf("record %s is in the topic %d times, want once", id, counts[id])
		}
	}
	if counts[big.CorrelationID] != 0 {
		t.Fatal("the record too large is in the topic")
	}
}

// noise is n bytes of text that does not compress.
func noise(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(rand.Text())
	}
	return b.String()[:n]
}
