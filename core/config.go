package core

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by NewManager to zero Config fields.
const (
	DefaultRequestTimeout     = 30 * time.Second
	DefaultProduceTimeout     = 30 * time.Second
	DefaultMaxPendingRequests = 10_000
	DefaultStorageMaxEvents   = 10_000
	DefaultStorageMaxBytes    = 64 << 20
	DefaultStorageMaxAge      = 10 * time.Minute
	DefaultWorkers            = 16
	DefaultPartitionQueue     = 256
	DefaultMaxRecordBytes     = 1 << 20
	DefaultMaxAttempts        = 3
	DefaultInitialBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff         = 5 * time.Second
	DefaultTopicPartitions    = 3
	DefaultDrainTimeout       = 30 * time.Second
	DefaultMaxHops            = 32
	// DefaultTransactionInterval is how often a Transactional responder
	// commits: the latency it adds to its replies, on average half of it.
	DefaultTransactionInterval = 100 * time.Millisecond
	// DefaultTransactionTimeout is the transaction.timeout.ms of a
	// Transactional responder: how long the brokers wait before they abort
	// the open transaction of an instance that crashed and was not
	// restarted with the same transactional ID.
	DefaultTransactionTimeout = 10 * time.Second
)

// Config configures a Manager. Zero values take the documented defaults.
type Config struct {
	// BootstrapServers is the "host:port,..." list of brokers. Required.
	BootstrapServers string
	// Location is this service's name and the topic it consumes (the Python
	// package's current_location). Required.
	Location string
	// GroupID is the consumer group of the Location consumer. Default: Location.
	GroupID string
	// Kafka holds librdkafka properties (security.protocol, sasl.*, ssl.*, ...)
	// given to every client; they override the library's defaults.
	Kafka map[string]any

	// RequestTimeout bounds Request when its ctx has no deadline. Default 30s.
	RequestTimeout time.Duration
	// ProduceTimeout bounds Produce and Reply when their ctx has no
	// deadline: the wait for the broker's acknowledgement (librdkafka would
	// wait 5 minutes for a broker that is down). Default 30s.
	ProduceTimeout time.Duration
	// MaxPendingRequests bounds requests awaiting replies; past it Request
	// fails at once with ErrTooManyPending. Default 10,000.
	MaxPendingRequests int

	// ReplyTopic is the topic replies to this service's requests go to.
	// Default "<Location>.replies". Every instance reads all of it, without
	// group membership, and keeps the replies it awaits. An instance may have
	// its own (a name ending in ".replies" passes responders' default
	// allow-list); it then also reads "<Location>.replies", where other
	// instances forward replies that reached them by mistake.
	ReplyTopic string
	// RequestOnly makes the Manager a requester only: InitConsumer creates
	// and positions the reply topic and nothing else, so it joins no consumer
	// group and creates no Location or dead-letter topic, and nothing is
	// routed or stored from the Location. Request and Produce work as usual;
	// only replies on the reply topic are received (Go responders), not those
	// that Python services send to the Location. For tools and short-lived
	// callers, such as `kafka-broker request`.
	RequestOnly bool
	// DisableReplyTopic makes requests ask for replies on Location instead
	// (the Python package's way); a reply then reaches whichever instance owns
	// its partition, which forwards it to ReplyTopic if it does not await it.
	DisableReplyTopic bool
	// ReplyTopicAllowList names the topics, besides those ending in
	// ".replies", that Reply may write to. A request names where its reply
	// goes: a Go requester in the kafka_replyTopic header (a "*.replies"
	// topic), a Python one only as the Location of its last audit entry. Both
	// come from whoever wrote the record, so an audit-log address is used only
	// when it is listed here: list the Locations of the Python services that
	// call this one. An entry ending in "*" matches every topic with that
	// prefix; "*" alone allows every topic that passes the fixed rules (not
	// this service's Location unless it awaits the reply itself, no
	// dead-letter or internal "__" topic, and the topic must exist). Env:
	// KAFKA_REPLY_TOPIC_ALLOW_LIST, comma-separated.
	ReplyTopicAllowList []string
	// MaxHops bounds a record's audit log: a record that has travelled
	// through more hops is dead-lettered with kind "loop", and Reply and
	// Produce refuse to send an event that would exceed it. Default 32.
	MaxHops int

	// StorageMaxEvents bounds the ConsumerStorage by count. Default 10,000.
	StorageMaxEvents int
	// StorageMaxBytes bounds the ConsumerStorage by the size of the stored
	// events' records (key, value and headers). Default 64 MiB.
	StorageMaxBytes int
	// StorageMaxAge bounds the ConsumerStorage by age. Default 10 minutes.
	StorageMaxAge time.Duration

	// Workers bounds handlers running at once across partitions. Each
	// partition is handled in order by its own goroutine. Default 16.
	Workers int
	// PartitionQueue is how many fetched records may wait per partition.
	// A partition whose queue is full is paused (the others go on) until
	// its queue is down to half. Default 256.
	PartitionQueue int
	// MaxRecordBytes is the largest record accepted, counting its key, value
	// and headers; larger ones are dead-lettered with kind "too_large".
	// Default 1 MiB.
	MaxRecordBytes int

	// MaxAttempts is how often a failing handler runs before its event is
	// dead-lettered (1 = no retries). Default 3.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts. Defaults 100ms and 5s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// DeadLetterTopic receives records that could not be decoded or handled.
	// Default "<Location>.dlq".
	DeadLetterTopic string
	// DisableDeadLetter drops failed records after logging them instead.
	DisableDeadLetter bool

	// TopicPartitions is the partition count used when the Location, reply or
	// dead-letter topic is missing and gets created. Default 3.
	TopicPartitions int
	// ReplicationFactor of created topics; 0 means the broker's default.
	ReplicationFactor int
	// DisableTopicCreation leaves topic creation to the operator.
	DisableTopicCreation bool

	// DrainTimeout bounds the wait for in-flight handlers of partitions
	// revoked in a rebalance. Default 30s.
	DrainTimeout time.Duration

	// InstanceID, when set, makes this instance a static member of its
	// consumer group (librdkafka's group.instance.id): restarted with the
	// same InstanceID (a StatefulSet pod name, say), it gets its partitions
	// back at once, without a rebalance. Each instance needs its own. The
	// catch: a static member does not leave the group when it closes, so its
	// partitions wait for the session timeout when it is gone for good.
	// Env: KAFKA_GROUP_INSTANCE_ID.
	InstanceID string

	// Transactional makes this service's handlers exactly-once on Kafka:
	// what they send with Reply and Produce, the dead letters, and the
	// offsets of the records they handled are written in one Kafka
	// transaction, committed every TransactionInterval (or every
	// TransactionMaxRecords records), so that read_committed consumers see
	// each reply and event once, also after a crash, a rebalance or a broker
	// restart. It adds up to TransactionInterval (and a commit) to every
	// reply's latency. See the README's "Exactly once" for the guarantees and
	// their limits. Env: KAFKA_TRANSACTIONAL=true.
	Transactional bool
	// TransactionInterval is how often a Transactional service commits.
	// Default 100ms.
	TransactionInterval time.Duration
	// TransactionMaxRecords, when positive, commits sooner, once that many
	// records were handled since the last commit.
	TransactionMaxRecords int
	// TransactionalID is the Kafka transactional.id of a Transactional
	// service. It must be unique among the running instances (two instances
	// with one ID fence each other) and stable across restarts of an instance
	// (the restarted instance then aborts what its crashed predecessor left
	// open at once, instead of after TransactionTimeout). Default
	// "<GroupID>.<InstanceID>", or "<GroupID>.<hostname>" without an
	// InstanceID. Env: KAFKA_TRANSACTIONAL_ID.
	TransactionalID string
	// TransactionTimeout is the brokers' bound on an open transaction
	// (transaction.timeout.ms); handlers must finish well within it. Default 10s.
	TransactionTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.GroupID == "" {
		c.GroupID = c.Location
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = DefaultProduceTimeout
	}
	if c.MaxPendingRequests == 0 {
		c.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if c.ReplyTopic == "" && c.Location != "" {
		c.ReplyTopic = c.Location + ".replies"
	}
	if c.StorageMaxEvents == 0 {
		c.StorageMaxEvents = DefaultStorageMaxEvents
	}
	if c.StorageMaxBytes == 0 {
		c.StorageMaxBytes = DefaultStorageMaxBytes
	}
	if c.MaxHops == 0 {
		c.MaxHops = DefaultMaxHops
	}
	if c.StorageMaxAge == 0 {
		c.StorageMaxAge = DefaultStorageMaxAge
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.PartitionQueue == 0 {
		c.PartitionQueue = DefaultPartitionQueue
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.DeadLetterTopic == "" && c.Location != "" {
		c.DeadLetterTopic = c.Location + ".dlq"
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = DefaultTopicPartitions
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Transactional {
		c.setTransactionDefaults()
	}
}

// Validate reports the first invalid field as a *ConfigError.
func (c Config) Validate() error {
	switch {
	case strings.TrimSpace(c.BootstrapServers) == "":
		return &ConfigError{"BootstrapServers", "required (host:port,...)"}
	case strings.TrimSpace(c.Location) == "":
		return &ConfigError{"Location", "required (the topic this service consumes)"}
	}
	for _, t := range []struct{ field, name string }{
		{"Location", c.Location}, {"ReplyTopic", c.ReplyTopic}, {"DeadLetterTopic", c.DeadLetterTopic},
	} {
		if t.name != "" && !ValidTopic(t.name) {
			return &ConfigError{t.field, "not a valid topic name: " + strconv.Quote(t.name)}
		}
	}
	for _, n := range []struct {
		field string
		value int64
	}{
		{"RequestTimeout", int64(c.RequestTimeout)}, {"ProduceTimeout", int64(c.ProduceTimeout)},
		{"MaxPendingRequests", int64(c.MaxPendingRequests)}, {"StorageMaxEvents", int64(c.StorageMaxEvents)},
		{"StorageMaxBytes", int64(c.StorageMaxBytes)}, {"MaxHops", int64(c.MaxHops)},
		{"StorageMaxAge", int64(c.StorageMaxAge)}, {"Workers", int64(c.Workers)},
		{"PartitionQueue", int64(c.PartitionQueue)}, {"MaxRecordBytes", int64(c.MaxRecordBytes)},
		{"MaxAttempts", int64(c.MaxAttempts)}, {"InitialBackoff", int64(c.InitialBackoff)},
		{"MaxBackoff", int64(c.MaxBackoff)}, {"TopicPartitions", int64(c.TopicPartitions)},
		{"DrainTimeout", int64(c.DrainTimeout)}, {"TransactionInterval", int64(c.TransactionInterval)},
		{"TransactionMaxRecords", int64(c.TransactionMaxRecords)}, {"TransactionTimeout", int64(c.TransactionTimeout)},
	} {
		if n.value < 0 {
			return &ConfigError{n.field, "must not be negative"}
		}
	}
	if err := c.validateTransactional(); err != nil {
		return err
	}
	for _, t := range c.ReplyTopicAllowList {
		if t == "*" || (strings.HasSuffix(t, "*") && ValidTopic(strings.TrimSuffix(t, "*"))) {
			continue
		}
		if !ValidTopic(t) {
			return &ConfigError{"ReplyTopicAllowList", "not a valid topic name or prefix pattern (name*): " + strconv.Quote(t)}
		}
	}
	return nil
}

// ValidTopic reports whether t is a legal Kafka topic name: 1 to 249 of
// letters, digits, '.', '_' and '-', and not "." or "..".
func ValidTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// ConfigFromEnv reads a Config from the environment:
//
//	KAFKA_BOOTSTRAP_SERVERS   BootstrapServers (required)
//	KAFKA_LOCATION            Location (required)
//	KAFKA_GROUP_ID            GroupID
//	KAFKA_GROUP_INSTANCE_ID   InstanceID
//	KAFKA_REQUEST_TIMEOUT     RequestTimeout (a Go duration, e.g. 10s)
//	KAFKA_REPLY_TOPIC         ReplyTopic
//	KAFKA_REPLY_TOPIC_ALLOW_LIST  ReplyTopicAllowList, comma-separated
//	KAFKA_DEAD_LETTER_TOPIC   DeadLetterTopic
//	KAFKA_WORKERS             Workers
//	KAFKA_TRANSACTIONAL       Transactional (true or false)
//	KAFKA_TRANSACTIONAL_ID    TransactionalID
//	KAFKA_SECURITY_PROTOCOL   librdkafka security.protocol
//	KAFKA_SASL_MECHANISM      librdkafka sasl.mechanism
//	KAFKA_SASL_USERNAME       librdkafka sasl.username
//	KAFKA_SASL_PASSWORD       librdkafka sasl.password
//	KAFKA_PROP_<NAME>         any librdkafka property: KAFKA_PROP_SSL_CA_LOCATION=x
//	                          sets ssl.ca.location=x (underscores become dots)
//
// It returns the Config validated, or a *ConfigError naming the variable.
func ConfigFromEnv() (Config, error) {
	var c Config
	c.BootstrapServers = os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	c.Location = os.Getenv("KAFKA_LOCATION")
	c.GroupID = os.Getenv("KAFKA_GROUP_ID")
	c.InstanceID = os.Getenv("KAFKA_GROUP_INSTANCE_ID")
	c.ReplyTopic = os.Getenv("KAFKA_REPLY_TOPIC")
	c.DeadLetterTopic = os.Getenv("KAFKA_DEAD_LETTER_TOPIC")
	c.TransactionalID = os.Getenv("KAFKA_TRANSACTIONAL_ID")
	if v := os.Getenv("KAFKA_TRANSACTIONAL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, &ConfigError{"KAFKA_TRANSACTIONAL", "not a boolean: " + strconv.Quote(v)}
		}
		c.Transactional = b
	}
	for _, t := range strings.Split(os.Getenv("KAFKA_REPLY_TOPIC_ALLOW_LIST"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.ReplyTopicAllowList = append(c.ReplyTopicAllowList, t)
		}
	}
	if v := os.Getenv("KAFKA_REQUEST_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, &ConfigError{"KAFKA_REQUEST_TIMEOUT", "not a duration: " + strconv.Quote(v)}
		}
		c.RequestTimeout = d
	}
	if v := os.Getenv("KAFKA_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, &ConfigError{"KAFKA_WORKERS", "not an integer: " + strconv.Quote(v)}
		}
		c.Workers = n
	}
	for k, v := range KafkaPropsFromEnv(os.Environ()) {
		c.setKafka(k, v)
	}
	if c.BootstrapServers == "" {
		return c, &ConfigError{"KAFKA_BOOTSTRAP_SERVERS", "not set"}
	}
	if c.Location == "" {
		return c, &ConfigError{"KAFKA_LOCATION", "not set"}
	}
	return c, c.Validate()
}

func (c *Config) setKafka(k string, v any) {
	if c.Kafka == nil {
		c.Kafka = map[string]any{}
	}
	c.Kafka[k] = v
}
