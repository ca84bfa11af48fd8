package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultRequestTimeout is how long request waits for a reply when neither
// --timeout nor KAFKA_REQUEST_TIMEOUT says otherwise.
const DefaultRequestTimeout = 10 * time.Second

// cleanupTimeout bounds closing the client and deleting the reply topic
// once the command is done.
const cleanupTimeout = 5 * time.Second

const requestAbout = `
Sends an event to <topic> with routing key <event> (an EventObject with a new
correlation ID and --data, a JSON object), waits for the reply with the same
correlation ID, and prints the reply as indented JSON on stdout, audit trail
included. On a terminal a progress line on stderr shows the wait.

By default request is a requester only: it joins no consumer group and
creates a single topic, <location>.replies, where Go services reply (the
kafka_replyTopic header names it); it reads it from its end and deletes it
afterwards. The Location is generated: kafka-broker-cli-<UTC start time>-
<8 hex digits>, as in kafka-broker-cli-20261201T124501Z-3f9a1c2e. Nothing
this library runs creates a topic by replying to it, so a deleted reply
topic stays deleted; should one be left behind (a killed command, or a
client that auto-creates topics writing to it late), a janitor may delete
the topics matching ` + TempTopicPattern + `
whose time is older than the longest --timeout in use.

Python kafka-broker services reply to the Location of the audit trail
instead: for them give --location (or KAFKA_LOCATION) a topic of your own,
never a running service's. request then also reads that topic in a consumer
group (--group-id), creates the topics that are missing, and deletes none.

` + eventRule

const requestMore = `
Environment (flags win):
  KAFKA_LOCATION            --location
  KAFKA_GROUP_ID            --group-id
  KAFKA_REQUEST_TIMEOUT     --timeout
  KAFKA_REPLY_TOPIC         --reply-topic
` + connEnvHelp + `

Exit status:
  0    the reply was printed
  1    error: the broker cannot be reached, the send failed, ...
  2    bad flags, arguments, --data or environment
  3    no reply within --timeout
  130  interrupted (Ctrl-C)

Examples:
  kafka-broker request orders order.get --data '{"id":42}'
  kafka-broker request orders order.create --data @order.json --timeout 30s
  echo '{"id":42}' | kafka-broker request orders order.get --data @- | jq .data`

func runRequest(ctx context.Context, env Env, args []string) int {
	var (
		c          connFlags
		data       string
		timeout    time.Duration
		location   string
		groupID    string
		replyTopic string
	)
	fs := newFlagSet("request", "request <topic> <event> [flags]", requestAbout, requestMore)
	fs.StringVar(&data, "data", "", dataHelp+"; a JSON object")
	fs.DurationVar(&timeout, "timeout", 0, "how long to wait for the reply (env KAFKA_REQUEST_TIMEOUT; default 10s)")
	fs.StringVar(&location, "location", "", "a `topic` of your own that Python services reply to, read in a consumer group "+
		"(env KAFKA_LOCATION; default: none, a generated kafka-broker-cli-<time>-<random> names the reply topic)")
	fs.StringVar(&groupID, "group-id", "", "consumer `group` reading --location (env KAFKA_GROUP_ID; default the Location)")
	fs.StringVar(&replyTopic, "reply-topic", "", "`topic` Go services reply to (env KAFKA_REPLY_TOPIC; default <location>.replies)")
	c.register(fs)
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return fs.fail(env, err)
	}
	r := request{env: env, conn: c, topic: pos[0], event: pos[1], location: location,
		groupID: groupID, replyTopic: replyTopic, timeout: timeout}
	if err := r.prepare(data); err != nil {
		return fail(env, "request", err)
	}
	reply, err := r.run(ctx)
	if errors.Is(err, core.ErrReplyTimeout) {
		fmt.Fprintf(env.Stderr, "kafka-broker request: no reply to %s (correlation ID %s) from %s within %v\n",
			r.event, r.id, r.topic, r.timeout)
		return ExitTimeout
	}
	if err != nil {
		return fail(env, "request", err)
	}
	b, err := json.MarshalIndent(reply, "", "  ")
	if err != nil {
		return fail(env, "request", err)
	}
	fmt.Fprintf(env.Stdout, "%s\n", b)
	return ExitOK
}

type request struct {
	env        Env
	conn       connFlags
	topic      string
	event      string
	data       json.RawMessage
	location   string
	generated  bool // the Location was generated: a requester only
	groupID    string
	replyTopic string
	timeout    time.Duration
	id         string // correlation ID, once sent
}

// prepare checks the command line and the environment, and fills in
// defaults, before anything connects.
func (r *request) prepare(data string) error {
	if err := checkTopic(r.topic); err != nil {
		return err
	}
	if err := checkEvent(r.event); err != nil {
		return err
	}
	var err error
	if r.data, err = readData(r.env, data); err != nil {
		return err
	}
	if err := checkObject(r.data); err != nil {
		return err
	}
	if r.timeout == 0 {
		r.timeout = DefaultRequestTimeout
		if v := r.env.getenv("KAFKA_REQUEST_TIMEOUT"); v != "" {
			if r.timeout, err = time.ParseDuration(v); err != nil {
				return usagef("KAFKA_REQUEST_TIMEOUT: not a duration: %q", v)
			}
		}
	}
	if r.timeout <= 0 {
		return usagef("--timeout: must be positive: %v", r.timeout)
	}
	if r.location == "" {
		r.location = r.env.getenv("KAFKA_LOCATION")
	}
	if r.location == "" {
		r.location, r.generated = tempName(time.Now()), true
	}
	if err := checkTopic(r.location); err != nil {
		return usagef("--location: %v", err)
	}
	if r.groupID == "" {
		r.groupID = r.env.getenv("KAFKA_GROUP_ID")
	}
	if r.replyTopic == "" {
		r.replyTopic = r.env.getenv("KAFKA_REPLY_TOPIC")
	}
	if r.replyTopic != "" {
		if err := checkTopic(r.replyTopic); err != nil {
			return usagef("--reply-topic: %v", err)
		}
	}
	return r.conn.checkProps(r.env)
}

func (r *request) run(ctx context.Context) (*core.EventObject, error) {
	connCtx, cancel := r.conn.connect(ctx)
	defer cancel()
	if err := r.conn.reach(connCtx, r.env); err != nil {
		return nil, err
	}
	cfg := core.Config{
		BootstrapServers:  r.conn.servers(r.env),
		Location:          r.location,
		GroupID:           r.groupID,
		ReplyTopic:        r.replyTopic,
		Kafka:             r.conn.kafkaProps(r.env),
		RequestTimeout:    r.timeout,
		DisableDeadLetter: true,
		// A requester only: no group, no Location topic; the command
		// creates the reply topic itself, to delete exactly what it made.
		RequestOnly:          r.generated,
		DisableTopicCreation: r.generated,
	}
	m, err := core.NewManager(cfg, core.WithLogger(r.conn.logger(r.env)))
	if err != nil {
		return nil, err
	}
	cfg = m.Config()
	var created []string
	defer func() { r.close(m, created) }()

	p := startProgress(r.env, r.env.Stderr, "connecting to "+cfg.BootstrapServers)
	defer p.Stop()
	if r.generated {
		created, err = createTopics(connCtx, r.env, r.conn, replyTopics(cfg))
		if err != nil {
			return nil, r.connectError(ctx, connCtx, "create the reply topic", err)
		}
	}
	if err := m.InitConsumer(connCtx); err != nil {
		return nil, r.connectError(ctx, connCtx, "start reading replies on "+cfg.ReplyTopic, err)
	}

	ev, err := core.NewEventObject(r.event, r.data)
	if err != nil {
		return nil, usagef("%v", err)
	}
	r.id = ev.CorrelationID
	p.Set(fmt.Sprintf("waiting for the reply to %s from %s", r.event, r.topic))
	start := time.Now()
	reqCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply, err := m.Request(reqCtx, r.topic, ev)
	p.Stop()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, core.ErrReplyTimeout) {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if isTerminal(r.env, r.env.Stderr) {
		from := "?"
		if n := len(reply.AuditLog); n > 0 {
			from = reply.AuditLog[n-1].Location
		}
		fmt.Fprintf(r.env.Stderr, "reply from %s in %v\n", from, time.Since(start).Round(time.Millisecond))
	}
	return reply, nil
}

// connectError is the error of a connecting step that failed: Ctrl-C's,
// --connect-timeout's, or the step's own.
func (r *request) connectError(ctx, connCtx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case connCtx.Err() != nil:
		return r.conn.timedOut(r.env, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// replyTopics are the topics a Manager with cfg reads replies on: its reply
// topic and, when that is not "<Location>.replies", that one too.
func replyTopics(cfg core.Config) []string {
	shared := cfg.Location + ".replies"
	if cfg.ReplyTopic == shared {
		return []string{shared}
	}
	return []string{cfg.ReplyTopic, shared}
}

// close closes the manager and deletes the topics the command created.
func (r *request) close(m *core.Manager, created []string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	log := r.conn.logger(r.env)
	if err := m.Close(ctx); err != nil {
		log.Warn("close", "error", err)
	}
	if len(created) == 0 {
		return
	}
	if err := deleteTopics(ctx, r.env, r.conn, created); err != nil {
		log.Warn("delete the reply topic this command created", "topics", created, "error", err)
	}
}

// createTopics creates those of topics that do not exist, with one
// partition, and returns the ones it created.
func createTopics(ctx context.Context, env Env, c connFlags, topics []string) ([]string, error) {
	a, err := kafka.NewAdminClient(c.clientConfig(env, nil))
	if err != nil {
		return nil, err
	}
	defer a.Close()
	specs := make([]kafka.TopicSpecification, len(topics))
	for i, t := range topics {
		specs[i] = kafka.TopicSpecification{Topic: t, NumPartitions: 1, ReplicationFactor: -1}
	}
	res, err := a.CreateTopics(ctx, specs)
	if err != nil {
		return nil, err
	}
	var created []string
	var errs []error
	for _, r := range res {
		switch r.Error.Code() {
		case kafka.ErrNoError:
			created = append(created, r.Topic)
		case kafka.ErrTopicAlreadyExists:
		default:
			errs = append(errs, fmt.Errorf("%s: %w", r.Topic, r.Error))
		}
	}
	return created, errors.Join(errs...)
}

// deleteTopics deletes topics, best effort.
func deleteTopics(ctx context.Context, env Env, c connFlags, topics []string) error {
	a, err := kafka.NewAdminClient(c.clientConfig(env, nil))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.DeleteTopics(ctx, topics)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range res {
		if code := r.Error.Code(); code != kafka.ErrNoError && code != kafka.ErrUnknownTopicOrPart {
			errs = append(errs, fmt.Errorf("%s: %w", r.Topic, r.Error))
		}
	}
	return errors.Join(errs...)
}
