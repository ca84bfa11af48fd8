package core

import (
	"context"
	"errors"
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
	t.Parallel()
	c := newCluster(t)
	const fenced = 2 * time.Second // the fault's length, not a synchronisation
	until := time.Now().Add(fenced)
	var answered atomic.Int32
	c.ControlKey(kmsg.Metadata.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().After(until) {
			return nil, nil, false
		}
		answered.Add(1)
		return fencedMetadata(kreq), nil, true
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

// A client that met a broker fenced for a moment dropped the broker (its
// metadata listed none) and, having no broker left, waited librdkafka's
// re-bootstrap trigger (five minutes) before it looked again: a responder
// stopped answering after a broker freeze (make test-kafka saw it). The
// Manager's clients re-bootstrap within seconds: requests are answered
// again soon after the broker is back.
func TestClientsRecoverFromAFencedBroker(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	var until atomic.Int64 // fenced while now is before it (Unix nanoseconds)
	var answered atomic.Int32
	c.Control(func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().UnixNano() >= until.Load() {
			return nil, nil, false
		}
		switch kreq.Key() {
		case kmsg.ApiVersions.Int16():
			return nil, nil, false // a connection comes up
		case kmsg.Metadata.Int16():
		default:
			return nil, errFenced, true // the connection is closed: the client asks for metadata again
		}
		answered.Add(1)
		return fencedMetadata(kreq), nil, true
	})
	svc := startedOn(t, c, "svc")
	svc.SetRouter(echoRouterInternal())
	api := startedOn(t, c, "api")
	ask := func(within time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		ev, _ := NewEventObject("echo.call", map[string]int{"n": 1})
		_, err := api.Request(ctx, svc.cfg.Location, ev)
		return err
	}
	if err := ask(30 * time.Second); err != nil {
		t.Fatalf("request before the fence: %v", err)
	}
	const fenced = 3 * time.Second // the fault's length, not a synchronisation
	until.Store(time.Now().Add(fenced).UnixNano())
	start := time.Now()
	var last error
	for time.Since(start) < 60*time.Second {
		if last = ask(10 * time.Second); last == nil {
			break
		}
	}
	if last != nil {
		t.Fatalf("no request answered within a minute of a %s fence: %v", fenced, last)
	}
	if answered.Load() == 0 {
		t.Fatal("no metadata was answered as by a fenced broker: nothing was tested")
	}
	t.Logf("answered again %s after a %s fence (%d metadata answers without brokers)",
		time.Since(start).Round(time.Millisecond), fenced, answered.Load())
}

var errFenced = errors.New("fenced")

// startedOn starts a Manager named name on the cluster c.
func startedOn(t *testing.T, c *kfake.Cluster, name string) *Manager {
	t.Helper()
	m, err := NewManager(Config{BootstrapServers: c.ListenAddrs()[0], Location: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		if err := m.Close(ctx); err != nil {
			t.Errorf("%s: Close (%s): %v", name, time.Since(start).Round(time.Millisecond), err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("%s: InitConsumer: %v", name, err)
	}
	return m
}

// echoRouterInternal replies with the request's data.
func echoRouterInternal() *EventRouter {
	r, echo := NewEventRouter("root"), NewEventRouter("echo")
	echo.BindEvent("call", func(ctx context.Context, ev *EventObject) error {
		m, _ := FromContext(ctx)
		return m.Reply(ctx, ev, ev.Data)
	})
	r.IncludeBinder(echo)
	return r
}

// newCluster starts an embedded broker of the test's own, closed at its end.
func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fencedMetadata answers a metadata request as a broker fenced for a
// moment does: topics listed, but no broker and no controller.
func fencedMetadata(kreq kmsg.Request) kmsg.Response {
	resp := kreq.ResponseKind().(*kmsg.MetadataResponse)
	resp.ControllerID = -1
	topic := kmsg.NewMetadataResponseTopic()
	name := "some-other-topic"
	topic.Topic = &name
	resp.Topics = append(resp.Topics, topic)
	return resp
}
