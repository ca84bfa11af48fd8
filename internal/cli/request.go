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

const requestAbout = `
Sends an event to <topic> with routing key <event> (an EventObject with a new
correlation ID), waits for the reply with the same correlation ID, and prints
the reply as indented JSON on stdout, audit trail included. On a terminal a
progress line on stderr shows the wait.

Replies come back to a Location, the topic this command reads: --location,
else KAFKA_LOCATION, else a generated kafka-broker-cli-<random>. A generated
Location's topics (<location> and <location>.replies) are created for the
call and deleted afterwards. Go services answer on <location>.replies (the
kafka_replyTopic header), Python kafka-broker services on <location>. Give a
Location of its own, never a running service's.`

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
  2    bad flags, arguments or --data
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
	fs.StringVar(&data, "data", "", dataHelp)
	fs.DurationVar(&timeout, "timeout", 0, "how long to wait for the reply (env KAFKA_REQUEST_TIMEOUT; default 10s)")
	fs.StringVar(&location, "location", "", "the `topic` replies come back to (env KAFKA_LOCATION; default kafka-broker-cli-<random>)")
	fs.StringVar(&groupID, "group-id", "", "consumer `group` reading the Location (env KAFKA_GROUP_ID; default the Location)")
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
	generated  bool // the Location was generated: delete its topics afterwards
	groupID    string
	replyTopic string
	timeout    time.Duration
	id         string // correlation ID, once sent
}

// prepare checks the command line and fills in defaults from the environment.
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
	if r.timeout == 0 {
		r.timeout = DefaultRequestTimeout
		if v := r.env.getenv("KAFKA_REQUEST_TIMEOUT"); v != "" {
			if r.timeout, err = time.ParseDuration(v); err != nil {
				return usagef("KAFKA_REQUEST_TIMEOUT=%q is not a duration (like 10s)", v)
			}
		}
	}
	if r.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	if r.location == "" {
		r.location = r.env.getenv("KAFKA_LOCATION")
	}
	if r.location == "" {
		r.location, r.generated = randomName("kafka-broker-cli-"), true
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
	return nil
}

func (r *request) run(ctx context.Context) (*core.EventObject, error) {
	if err := r.conn.reach(ctx, r.env); err != nil {
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
	}
	if r.generated {
		cfg.TopicPartitions = 1
	}
	m, err := core.NewManager(cfg, core.WithLogger(r.conn.logger(r.env)))
	if err != nil {
		return nil, err
	}
	cfg = m.Config()
	defer r.close(m)

	p := startProgress(r.env, r.env.Stderr, "connecting to "+cfg.BootstrapServers)
	defer p.Stop()
	initCtx, cancel := context.WithTimeout(ctx, r.conn.connectTimeout)
	err = m.InitConsumer(initCtx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("start reading replies on %s: %w", cfg.Location, err)
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

// close closes the manager and deletes the topics of a generated Location.
func (r *request) close(m *core.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := r.conn.logger(r.env)
	if err := m.Close(ctx); err != nil {
		log.Warn("close", "error", err)
	}
	if !r.generated {
		return
	}
	cfg := m.Config()
	topics := []string{cfg.Location}
	if r.replyTopic == "" { // derived from the generated Location
		topics = append(topics, cfg.ReplyTopic)
	}
	if err := deleteTopics(ctx, r.env, r.conn, topics); err != nil {
		log.Warn("delete the generated topics", "topics", topics, "error", err)
	}
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
