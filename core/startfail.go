package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// startGuard holds, while InitConsumer runs, an error that no retry fixes:
// wrong credentials, a TLS handshake that cannot succeed (an untrusted broker
// certificate), a fatal client error, or a group or topic the principal may
// not read. librdkafka reports these as error events on the clients' event
// queues, not as the result of the call that waits (a metadata request only
// times out), so the event loops note them here and the start's retry loops
// return them at once instead of retrying until their ctx ends.
type startGuard struct {
	brokers, group, location, user string
	starting                       func() bool // InitConsumer runs

	err atomic.Pointer[error]
	// noted wakes a wait that does not poll (the group join) when an error
	// is noted; buffered, one pending wake-up is enough.
	noted chan struct{}
}

func newStartGuard(cfg Config, starting func() bool) *startGuard {
	user, _ := cfg.Kafka["sasl.username"].(string)
	return &startGuard{brokers: cfg.BootstrapServers, group: cfg.GroupID, location: cfg.Location, user: user,
		starting: starting, noted: make(chan struct{}, 1)}
}

// noteClient remembers e when it ends a start: authentication and TLS
// failures and fatal errors, from any client.
func (g *startGuard) noteClient(e kafka.Error) {
	var err error
	switch code := e.Code(); {
	case code == kafka.ErrAuthentication || code == kafka.ErrSaslAuthenticationFailed:
		err = errorf("kafka-broker: authentication failed (brokers %s, sasl.username %q): %w; check sasl.username, sasl.password and sasl.mechanisms",
			g.brokers, g.user, e)
	case code == kafka.ErrSsl:
		err = errorf("kafka-broker: TLS handshake failed (brokers %s): %w; check ssl.ca.location (the CA that signed the brokers' certificates) and that their certificates name the host in the bootstrap address",
			g.brokers, e)
	case e.IsFatal() && code == kafka.ErrClusterAuthorizationFailed:
		err = errorf("kafka-broker: the idempotent producer may not start (brokers %s): %w; the principal needs WRITE on at least one topic (or IDEMPOTENT_WRITE on the cluster)",
			g.brokers, e)
	case e.IsFatal():
		err = errorf("kafka-broker: fatal client error (brokers %s): %w", g.brokers, e)
	default:
		return
	}
	g.set(err)
}

// noteJoin remembers an authorization failure the group consumer meets
// while it joins the group and subscribes to the Location.
func (g *startGuard) noteJoin(e kafka.Error) {
	switch e.Code() {
	case kafka.ErrGroupAuthorizationFailed:
		g.set(errorf("kafka-broker: not authorized to join group %s (brokers %s): %w; the principal needs READ on group %s",
			g.group, g.brokers, e, g.group))
	case kafka.ErrTopicAuthorizationFailed:
		g.set(errorf("kafka-broker: not authorized to consume topic %s (brokers %s): %w; the principal needs READ on topic %s",
			g.location, g.brokers, e, g.location))
	default:
		g.noteClient(e)
	}
}

func (g *startGuard) set(err error) {
	if !g.starting() {
		return // a running manager logs its errors; only a start ends on one
	}
	g.err.Store(&err)
	select {
	case g.noted <- struct{}{}:
	default:
	}
}

// take returns the noted error, if any, and forgets it, so that a later
// InitConsumer starts afresh (after an operator added an ACL, say).
func (g *startGuard) take() error {
	if p := g.err.Swap(nil); p != nil {
		return *p
	}
	return nil
}

// notAuthorized reports an authorization failure the broker returned.
func notAuthorized(code kafka.ErrorCode) bool {
	return code == kafka.ErrTopicAuthorizationFailed || code == kafka.ErrGroupAuthorizationFailed ||
		code == kafka.ErrClusterAuthorizationFailed
}

// createTopicError words a failure to create topic; one the ACLs cause says
// what the principal lacks.
func createTopicError(brokers, topic string, e kafka.Error) error {
	if notAuthorized(e.Code()) {
		return errorf("kafka-broker: not authorized to create topic %s (brokers %s): %w; the principal needs CREATE on topic %s, or create it beforehand and set Config.DisableTopicCreation",
			topic, brokers, e, topic)
	}
	return errorf("kafka-broker: create topic %s: %w", topic, e)
}

// checkReplicationFactor fails at once when rf asks for more replicas than
// the cluster has brokers: the broker would refuse the topic with
// INVALID_REPLICATION_FACTOR, which ensureTopics otherwise retries (fewer
// brokers than the broker's default factor is transient: a broker
// restarting). md lists the brokers available now.
func checkReplicationFactor(brokers string, rf int, md *kafka.Metadata, specs []kafka.TopicSpecification) error {
	if rf <= 0 || len(specs) == 0 || rf <= len(md.Brokers) {
		return nil
	}
	return fmt.Errorf("kafka-broker: cannot create topic %s with Config.ReplicationFactor %d: the cluster has %d brokers available (brokers %s); lower ReplicationFactor, or 0 for the broker's default",
		specs[0].Topic, rf, len(md.Brokers), brokers)
}

// produceError words a failed delivery to topic; one the ACLs cause says
// what the principal lacks.
func produceError(topic string, err error) error {
	if kerr := (kafka.Error{}); errors.As(err, &kerr) && notAuthorized(kerr.Code()) {
		return errorf("kafka-broker: produce to %s: not authorized: %w; the principal needs WRITE on topic %s", topic, err, topic)
	}
	return errorf("kafka-broker: produce to %s: %w", topic, err)
}

// checkReadable fails when the principal may not READ one of topics. The
// reply consumer reads them without a group: WRITE alone lets it find their
// partitions and ends, and a fetch it may not make shows only as an error
// event once the start has returned. A broker that reports no authorized
// operations (or fails the call) leaves it to the fetches.
func (ad *admin) checkReadable(ctx context.Context, topics []string) error {
	ad.mu.RLock()
	defer ad.mu.RUnlock()
	if ad.closed {
		return ErrClosed
	}
	res, err := ad.a.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames(topics),
		kafka.SetAdminOptionIncludeAuthorizedOperations(true),
		kafka.SetAdminRequestTimeout(time.Duration(timeoutMs(ctx, 10*time.Second))*time.Millisecond))
	if err != nil {
		return nil
	}
	for _, d := range res.TopicDescriptions {
		readable := d.Error.Code() == kafka.ErrNoError && (d.AuthorizedOperations == nil ||
			slices.Contains(d.AuthorizedOperations, kafka.ACLOperationRead) || slices.Contains(d.AuthorizedOperations, kafka.ACLOperationAll))
		if readable || (d.Error.Code() != kafka.ErrNoError && !notAuthorized(d.Error.Code())) {
			continue
		}
		return fmt.Errorf("kafka-broker: not authorized to read reply topic %s (brokers %s): allowed %v; the principal needs READ on topic %s",
			d.Name, ad.brokers, d.AuthorizedOperations, d.Name)
	}
	return nil
}
