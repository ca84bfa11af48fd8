package core_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// TestReplicationFactorAboveBrokers: a ReplicationFactor the cluster cannot
// meet fails InitConsumer at once, naming the factor and the broker count,
// instead of retrying the broker's refusal until ctx ends.
func TestReplicationFactorAboveBrokers(t *testing.T) {
	t.Parallel()
	cfg := kafkatest.Config(t, "svc")
	cfg.ReplicationFactor = 99
	m := newManager(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	err := m.InitConsumer(ctx)
	took := time.Since(t0)
	want := regexp.MustCompile(`ReplicationFactor 99: the cluster has [1-9][0-9]* brokers available`)
	if err == nil || !want.MatchString(err.Error()) {
		t.Fatalf("InitConsumer = %v; want an error matching %q", err, want)
	}
	if took > 10*time.Second {
		t.Fatalf("InitConsumer failed after %v; want at once", took)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
}
