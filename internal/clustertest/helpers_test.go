package clustertest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// cluster is the cluster of the tier.
type cluster struct {
	nodes  int
	script *realkafka.Broker
	admin  *kafka.AdminClient
}

func clusterFromEnv(t *testing.T) *cluster {
	t.Helper()
	n, _ := strconv.Atoi(os.Getenv("KAFKA_NODES"))
	script, ok := realkafka.FromEnv()
	if n < 3 || !ok || !kafkatest.External() {
		t.Skip("needs the cluster of make test-kafka-cluster (KAFKA_NODES=3, KAFKA_SCRIPT)")
	}
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(t, kafka.ConfigMap{"log_level": 0}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &cluster{nodes: n, script: script, admin: a}
}

// leader returns the node that leads partition p of topic.
func (c *cluster) leader(t *testing.T, topic string, p int32) int {
	t.Helper()
	md, err := c.admin.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, pm := range md.Topics[topic].Partitions {
		if pm.ID == p && pm.Leader >= 0 {
			return int(pm.Leader)
		}
	}
	t.Fatalf("partition %s/%d has no leader: %+v", topic, p, md.Topics[topic])
	return 0
}

// waitInSync waits until every node is registered and every partition of
// every topic is led and has all its replicas in sync: the state in which
// the next node of a rolling restart may go down.
func (c *cluster) waitInSync(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	var why string
	for time.Since(t0) < timeout {
		why = ""
		md, err := c.admin.GetMetadata(nil, true, 5_000)
		switch {
		case err != nil:
			why = err.Error()
		case len(md.Brokers) < c.nodes:
			why = fmt.Sprintf("%d of %d brokers registered", len(md.Brokers), c.nodes)
		default:
		topics:
			for name, tm := range md.Topics {
				for _, p := range tm.Partitions {
					if p.Leader < 0 || len(p.Isrs) < len(p.Replicas) {
						why = fmt.Sprintf("%s/%d: leader %d, in sync %v of %v", name, p.ID, p.Leader, p.Isrs, p.Replicas)
						break topics
					}
				}
			}
		}
		if why == "" {
			return time.Since(t0)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("cluster not in sync after %v: %s", timeout, why)
	return 0
}

// replicas returns the replica and in-sync counts of every partition of topic.
func (c *cluster) replicas(t *testing.T, topic string) (replicas, inSync []int) {
	t.Helper()
	res, err := c.admin.DescribeTopics(kafkatest.Context(t, 30*time.Second), kafka.NewTopicCollectionOfTopicNames([]string{topic}))
	if err != nil {
		t.Fatalf("DescribeTopics %s: %v", topic, err)
	}
	d := res.TopicDescriptions[0]
	if d.Error.Code() != kafka.ErrNoError {
		t.Fatalf("DescribeTopics %s: %v", topic, d.Error)
	}
	for _, p := range d.Partitions {
		replicas = append(replicas, len(p.Replicas))
		inSync = append(inSync, len(p.Isr))
	}
	return replicas, inSync
}

// node runs a script command on node n, bounded by 3 minutes.
func (c *cluster) node(t *testing.T, f func(context.Context, int) error, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := f(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// buildResponder builds internal/faulttest/responder.
func buildResponder(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "responder")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kafka-broker/kafka-broker-go/internal/faulttest/responder").CombinedOutput()
	if err != nil {
		t.Fatalf("build responder: %v\n%s", err, out)
	}
	return bin
}

// startResponder runs a responder process on location, appending what it
// handles to out, and stops it (SIGTERM) when the test ends.
func startResponder(t *testing.T, bin, location, out string) {
	t.Helper()
	cmd := exec.Command(bin, "-brokers", kafkatest.Bootstrap(t), "-location", location, "-out", out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-scanned
		if err := cmd.Wait(); err != nil {
			t.Errorf("responder %s: %v", out, err)
		}
	})
	select {
	case <-ready:
	case <-scanned:
		t.Fatalf("responder %s exited before it was ready", out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("responder %s not ready after 2 minutes", out)
	}
}

// handled reads the responders' files: how often each correlation ID of
// each event was handled.
func handled(t *testing.T, files ...string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			event, id, ok := strings.Cut(l, " ")
			if !ok {
				continue
			}
			if out[event] == nil {
				out[event] = map[string]int{}
			}
			out[event][id]++
		}
	}
	return out
}

// newManager returns a started manager closed when the test ends.
func newManager(t *testing.T, cfg core.Config) *core.Manager {
	t.Helper()
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}
