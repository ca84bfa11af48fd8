package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// admin runs the cluster-level calls: metadata, topic creation and the
// reachability check. It lives as long as the producer it was made from.
type admin struct {
	brokers string
	log     *slog.Logger
	closing <-chan struct{} // the manager's Close began: stop retrying
	// startErr returns an error that ends a start at once (startGuard.take).
	startErr func() error

	mu     sync.RWMutex // write-held while it closes
	a      *kafka.AdminClient
	closed bool
}

// topicSpec says how missing topics are created.
type topicSpec struct {
	partitions, replicationFactor int
	config                        map[string]string // topic configs (cleanup.policy...)
}

// ensureTopics creates the topics that do not exist. A librdkafka consumer
// does not create the topics it subscribes to, so the Location, reply and
// dead-letter topics are created here.
func (ad *admin) ensureTopics(ctx context.Context, spec topicSpec, topics ...string) error {
	md, err := ad.metadata(ctx)
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
		rf := spec.replicationFactor
		if rf == 0 {
			rf = -1
		}
		specs = append(specs, kafka.TopicSpecification{Topic: t, NumPartitions: spec.partitions, ReplicationFactor: rf, Config: spec.config})
	}
	if len(specs) == 0 {
		return nil
	}
	if err := checkReplicationFactor(ad.brokers, spec.replicationFactor, md, specs); err != nil {
		return err
	}
	for {
		var last error
		res, err := ad.createTopics(ctx, specs)
		switch {
		case err != nil && ctx.Err() != nil:
			return errorf("kafka-broker: create topics (brokers %s): %w (last error: %w)", ad.brokers, ctx.Err(), err)
		case err != nil && !adminRetriable(err):
			return errorf("kafka-broker: create topics (brokers %s): %w", ad.brokers, err)
		case err != nil:
			// No controller known yet: librdkafka looks it up again only
			// with a new call (a client that first met a fenced broker
			// waited the whole request timeout).
			last = err
		default:
			retry, lastTopic, err := ad.createdOrRetry(spec, specs, res)
			if err != nil {
				return err
			}
			if len(retry) == 0 {
				return nil
			}
			specs, last = retry, lastTopic
		}
		select {
		case <-ctx.Done():
			return errorf("kafka-broker: create topics (brokers %s): %w (last error: %w)", ad.brokers, ctx.Err(), last)
		case <-ad.closing:
			return ErrClosed
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// createdOrRetry sorts CreateTopics results: created or there already, to
// retry (a broker restarting or fenced for a moment), or a final error.
func (ad *admin) createdOrRetry(spec topicSpec, specs []kafka.TopicSpecification, res []kafka.TopicResult) ([]kafka.TopicSpecification, error, error) {
	var retry []kafka.TopicSpecification
	var last error
	for i, r := range res {
		switch code := r.Error.Code(); {
		case code == kafka.ErrNoError:
			ad.log.Info("kafka-broker: created topic", "topic", r.Topic, "partitions", spec.partitions)
		case code == kafka.ErrTopicAlreadyExists:
		case r.Error.IsRetriable() || code == kafka.ErrInvalidReplicationFactor || code == kafka.ErrBrokerNotAvailable ||
			code == kafka.ErrNotController || code == kafka.ErrRequestTimedOut:
			retry = append(retry, specs[i])
			last = r.Error
		default:
			return nil, nil, createTopicError(ad.brokers, r.Topic, r.Error)
		}
	}
	return retry, last, nil
}

func (ad *admin) createTopics(ctx context.Context, specs []kafka.TopicSpecification) ([]kafka.TopicResult, error) {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return nil, ErrClosed
	}
	return ad.a.CreateTopics(ctx, specs,
		kafka.SetAdminOperationTimeout(time.Duration(timeoutMs(ctx, 30*time.Second))*time.Millisecond),
		kafka.SetAdminRequestTimeout(time.Duration(timeoutMs(ctx, adminCallTimeout))*time.Millisecond))
}

// errNoBrokers: the metadata listed no broker.
var errNoBrokers = errors.New("metadata lists no broker (a broker starting, or fenced for a moment)")

// adminCallTimeout bounds one admin request (finding the controller
// included) of a retry loop.
const adminCallTimeout = 10 * time.Second

// adminRetriable: an admin call failed for want of a broker or controller
// (starting, fenced for a moment, unreachable): a new call may succeed.
func adminRetriable(err error) bool {
	var kerr kafka.Error
	return errors.As(err, &kerr) && (kerr.Code() == kafka.ErrTransport ||
		kerr.Code() == kafka.ErrAllBrokersDown || kerr.Code() == kafka.ErrTimedOut || kerr.IsRetriable())
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

// metadataCallTimeout bounds one metadata request of metadata's retry loop:
// short calls, so that an authentication or TLS failure, which the clients
// report as an event while the call only times out, ends a start soon.
const metadataCallTimeout = 2 * time.Second

// metadata reads the cluster's metadata, retrying while the brokers cannot be
// reached, until ctx ends.
func (ad *admin) metadata(ctx context.Context) (*kafka.Metadata, error) {
	for {
		md, err := ad.getMetadata(ctx, metadataCallTimeout)
		if err == nil && len(md.Brokers) > 0 {
			return md, nil
		}
		if err == nil {
			// A broker that was fenced (frozen, restarting) answers
			// without itself until the controller lets it in again.
			err = errNoBrokers
		}
		if ad.startErr != nil {
			if serr := ad.startErr(); serr != nil {
				return nil, serr
			}
		}
		if !adminRetriable(err) && !errors.Is(err, errNoBrokers) {
			return nil, errorf("kafka-broker: read metadata (brokers %s): %w", ad.brokers, err)
		}
		select {
		case <-ctx.Done():
			return nil, errorf("kafka-broker: read metadata (brokers %s): %w (last error: %w)", ad.brokers, ctx.Err(), err)
		case <-ad.closing:
			return nil, ErrClosed
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (ad *admin) getMetadata(ctx context.Context, def time.Duration) (*kafka.Metadata, error) {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return nil, ErrClosed
	}
	return ad.a.GetMetadata(nil, true, timeoutMs(ctx, def))
}

// describeTopic is the topic directory's way to ask: DescribeTopics never
// creates the topic it names.
func (ad *admin) describeTopic(ctx context.Context, topic string) (topicInfo, error) {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return topicInfo{}, ErrClosed
	}
	return describeWith(ad.a)(ctx, topic)
}

// ping makes a metadata round trip, bounded by ctx (at most 5s).
func (ad *admin) ping(ctx context.Context) error {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return ErrClosed
	}
	if _, err := ad.a.GetMetadata(nil, false, timeoutMs(ctx, 5*time.Second)); err != nil {
		return errorf("kafka-broker: brokers %s unreachable: %w", ad.brokers, err)
	}
	return nil
}

// close releases the admin client; later calls fail with ErrClosed.
func (ad *admin) close() {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if !ad.closed {
		ad.closed = true
		ad.a.Close()
	}
}
