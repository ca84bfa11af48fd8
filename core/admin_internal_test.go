package core

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker fenced for a moment (it went on after a freeze longer than its
// registration lease) answers metadata without any broker and without a
// controller. A client whose first metadata was such an answer kept it, and
// its CreateTopics waited for a controller for the whole request timeout (a
// minute; make test-kafka saw InitConsumer fail so). The topics are
// created once the broker is back: metadata without brokers is not taken,
// and a CreateTopics that found no controller is made again.
func TestEnsureTopicsAcrossAFencedBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const fenced = 2 * time.Second // the fault's length, not a synchronisation
	until := time.Now().Add(fenced)
	var answered atomic.Int32
	c.ControlKey(kmsg.Metadata.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().After(until) {
			return nil, nil, false
		}
		answered.Add(1)
		resp := kreq.ResponseKind().(*kmsg.MetadataResponse)
		resp.ControllerID = -1 // no broker: the broker is fenced
		topic := kmsg.NewMetadataResponseTopic()
		name := "some-other-topic"
		topic.Topic = &name
		resp.Topics = append(resp.Topics, topic)
		return resp, nil, true
	})
	// Not ConfigFromEnv: the embedded broker is plaintext in every tier.
	m, err := NewManager(Config{BootstrapServers: c.ListenAddrs()[0], Location: "fenced-svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.admin.ensureTopics(ctx, topicSpec{partitions: 1}, m.cfg.Location, m.cfg.DeadLetterTopic); err != nil {
		t.Fatalf("ensureTopics across a fenced broker: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	}
	if answered.Load() == 0 {
		t.Fatal("no metadata was answered as by a fenced broker: nothing was tested")
	}
	t.Logf("topics created %s after the start (fenced for %s, %d metadata answers without brokers)",
		time.Since(start).Round(time.Millisecond), fenced, answered.Load())
}
