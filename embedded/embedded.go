// Package embedded runs an in-process Kafka-protocol broker (franz-go's kfake)
// on 127.0.0.1. It is the zero-setup default for examples, the CLI's dev
// command and the test suite. Data lives in memory only.
//
// It is never started implicitly by library code paths: callers opt in by
// calling Start.
package embedded

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultPartitions is the partition count of auto-created topics.
const DefaultPartitions = 3

// Cluster is a running in-process broker.
type Cluster struct {
	c *kfake.Cluster
}

// Option configures Start.
type Option interface{ apply(*config) }

type config struct {
	port       int
	partitions int
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPort listens on the given port instead of a random free one.
func WithPort(port int) Option { return optionFunc(func(c *config) { c.port = port }) }

// WithPartitions sets the partition count of auto-created topics.
func WithPartitions(n int) Option { return optionFunc(func(c *config) { c.partitions = n }) }

// Start runs a single-node broker on 127.0.0.1 with topic auto-creation on.
func Start(opts ...Option) (*Cluster, error) {
	cfg := config{partitions: DefaultPartitions}
	for _, o := range opts {
		o.apply(&cfg)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.partitions),
	}
	if cfg.port != 0 {
		kopts = append(kopts, kfake.Ports(cfg.port))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: start broker: %w", err)
	}
	return &Cluster{c: c}, nil
}

// BootstrapServers returns the "host:port" list to give Kafka clients.
func (c *Cluster) BootstrapServers() string {
	return strings.Join(c.c.ListenAddrs(), ",")
}

// Close stops the broker and releases its listeners. It is safe to call more than once.
func (c *Cluster) Close() {
	if c == nil || c.c == nil {
		return
	}
	c.c.Close()
}
