package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ensureTopics creates the topics that do not exist. A librdkafka consumer
// does not create the topics it subscribes to, so the Location, reply and
// dead-letter topics are created here.
func (m *Manager) ensureTopics(ctx context.Context, topics ...string) error {
	if m.cfg.DisableTopicCreation {
		return nil
	}
	md, err := m.metadata(ctx)
	if err != nil {
		return err
	}
	var specs []kafka.TopicSpecification
	seen := map[string]bool{}
	for _, t := range topics {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if tm, ok := md.Topics[t]; ok && tm.Error.Code() == kafka.ErrNoError && len(tm.Partitions) > 0 {
			continue
		}
		rf := m.cfg.ReplicationFactor
		if rf == 0 {
			rf = -1
		}
		specs = append(specs, kafka.TopicSpecification{Topic: t, NumPartitions: m.cfg.TopicPartitions, ReplicationFactor: rf})
	}
	if len(specs) == 0 {
		return nil
	}
	if err := m.checkReplicationFactor(md, specs); err != nil {
		return err
	}
	for {
		res, err := m.admin.CreateTopics(ctx, specs, kafka.SetAdminOperationTimeout(time.Duration(timeoutMs(ctx, 30*time.Second))*time.Millisecond))
		if err != nil {
			if ctx.Err() != nil {
				return m.ctxError("create topics", ctx.Err())
			}
			return fmt.Errorf("kafka-broker: create topics (brokers %s): %w", m.cfg.BootstrapServers, err)
		}
		var retry []kafka.TopicSpecification
		var last error
		for i, r := range res {
			switch code := r.Error.Code(); {
			case code == kafka.ErrNoError:
				m.log.Info("kafka-broker: created topic", "topic", r.Topic, "partitions", m.cfg.TopicPartitions)
			case code == kafka.ErrTopicAlreadyExists:
			case r.Error.IsRetriable() || code == kafka.ErrInvalidReplicationFactor || code == kafka.ErrBrokerNotAvailable ||
				code == kafka.ErrNotController || code == kafka.ErrRequestTimedOut:
				// A broker restarting or fenced for a moment: try again.
				retry = append(retry, specs[i])
				last = r.Error
			default:
				return m.createTopicError(r.Topic, r.Error)
			}
		}
		if len(retry) == 0 {
			return nil
		}
		specs = retry
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka-broker: create topics (brokers %s, last error: %v): %w", m.cfg.BootstrapServers, last, ctx.Err())
		case <-m.closing:
			return ErrClosed
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// timeoutMs bounds one blocking broker call: the time left before ctx's
// deadline in milliseconds, at most def (callers retry in a loop that also
// watches ctx and Close, so a call never outlasts them by more than def).
func timeoutMs(ctx context.Context, def time.Duration) int {
	d := def
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		d = time.Until(dl)
	}
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return int(d / time.Millisecond)
}

// metadataCallTimeout bounds one metadata request of metadata's retry loop.
const metadataCallTimeout = 2 * time.Second

// metadata reads the cluster's metadata, retrying while the brokers cannot be
// reached, until ctx ends.
func (m *Manager) metadata(ctx context.Context) (*kafka.Metadata, error) {
	for {
		// Short calls: an authentication or TLS failure, which the clients
		// report as an event while the call only times out, ends the start
		// within about metadataCallTimeout.
		md, err := m.admin.GetMetadata(nil, true, timeoutMs(ctx, metadataCallTimeout))
		if err == nil {
			return md, nil
		}
		if serr := m.takeStartError(); serr != nil {
			return nil, serr
		}
		var kerr kafka.Error
		retriable := errors.As(err, &kerr) && (kerr.Code() == kafka.ErrTransport ||
			kerr.Code() == kafka.ErrAllBrokersDown || kerr.Code() == kafka.ErrTimedOut || kerr.IsRetriable())
		if !retriable {
			return nil, fmt.Errorf("kafka-broker: read metadata (brokers %s): %w", m.cfg.BootstrapServers, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("kafka-broker: read metadata (brokers %s, last error: %v): %w", m.cfg.BootstrapServers, err, ctx.Err())
		case <-m.closing:
			return nil, ErrClosed
		case <-time.After(200 * time.Millisecond):
		}
	}
}
