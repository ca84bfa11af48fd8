package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

const tailAbout = `
Prints the events of one or more topics as they arrive, one per line, audit
trail included: a readable line on a terminal, the event's JSON when piped
(see --format). Records that are not events are reported on stderr.

Every partition is read from its end (or, with --from-beginning, its start)
without joining a consumer group, so tail never takes events away from a
service and commits nothing. Ctrl-C stops it (exit 0).

--event filters by routing key with the wildcards of core.EventRouter binds:
"*" matches exactly one segment, "#" zero or more. "order.*" matches
order.created but not order.item.added; "order.#" matches both, and "order".`

const tailMore = `
Environment (flags win):
` + connEnvHelp + `

Exit status:
  0    stopped by Ctrl-C, or --max-events were printed
  1    error: the broker cannot be reached, a topic does not exist, ...
  2    bad flags or arguments

Examples:
  kafka-broker tail orders
  kafka-broker tail orders payments --event 'order.#' --event '*.failed'
  kafka-broker tail orders --from-beginning --format json | jq .data`

func runTail(ctx context.Context, env Env, args []string) int {
	var (
		c             connFlags
		fromBeginning bool
		patterns      stringsFlag
		maxEvents     int
		format        = formatFlag("auto")
	)
	fs := newFlagSet("tail", "tail <topic>... [flags]", tailAbout, tailMore)
	fs.BoolVar(&fromBeginning, "from-beginning", false, "print the events already in the topics first")
	fs.Var(&patterns, "event", "print only events whose routing key matches `pattern`; repeatable")
	fs.IntVar(&maxEvents, "max-events", 0, "exit after printing `n` events (0: no limit)")
	fs.Var(&format, "format", formatHelp)
	c.register(fs)
	topics, err := fs.parse(args, 1, -1)
	if err != nil {
		return fs.fail(env, err)
	}
	t := tail{env: env, conn: c, topics: topics, fromBeginning: fromBeginning, maxEvents: maxEvents,
		out: printer{w: env.Stdout, human: format.human(env, env.Stdout)}}
	if err := t.run(ctx, patterns); err != nil {
		return fail(env, "tail", err)
	}
	return ExitOK
}

type tail struct {
	env           Env
	conn          connFlags
	topics        []string
	fromBeginning bool
	maxEvents     int
	out           printer
}

func (t *tail) run(ctx context.Context, patterns []string) error {
	for _, topic := range t.topics {
		if err := checkTopic(topic); err != nil {
			return err
		}
	}
	if t.maxEvents < 0 {
		return usagef("--max-events: must not be negative: %d", t.maxEvents)
	}
	filter, err := newEventFilter(patterns)
	if err != nil {
		return err
	}
	if err := t.conn.checkProps(t.env); err != nil {
		return err
	}
	// Reaching the broker and assigning the partitions, within --connect-timeout.
	startCtx, cancel := t.conn.connect(ctx)
	defer cancel()
	if err := t.conn.reach(startCtx, t.env); err != nil {
		return err
	}
	consumer, err := kafka.NewConsumer(t.conn.clientConfig(t.env, kafka.ConfigMap{
		// Required by the client; tail assigns partitions and never joins it.
		"group.id":               randomName("kafka-broker-cli-tail-"),
		"enable.auto.commit":     false,
		"fetch.wait.max.ms":      100,
		"go.logs.channel.enable": false,
	}))
	if err != nil {
		return err
	}
	defer consumer.Close()

	n, err := t.assign(startCtx, consumer)
	cancel()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil // Ctrl-C while starting
		case startCtx.Err() != nil:
			return t.conn.timedOut(t.env, "read the partitions of "+strings.Join(t.topics, ", "), err)
		}
		return err
	}
	from := "end"
	if t.fromBeginning {
		from = "beginning"
	}
	partitions := "partitions"
	if n == 1 {
		partitions = "partition"
	}
	fmt.Fprintf(t.env.Stderr, "kafka-broker tail: reading %s (%d %s) from the %s; Ctrl-C stops\n",
		strings.Join(t.topics, ", "), n, partitions, from)
	return t.print(ctx, consumer, filter)
}

// print prints the events consumer reads that filter matches, until ctx
// ends, --max-events are printed, or reading fails for good.
func (t *tail) print(ctx context.Context, consumer *kafka.Consumer, filter eventFilter) error {
	printed := 0
	var refused kafka.Error // a READ refusal not followed by a record yet
	var refusedAt time.Time
	for ctx.Err() == nil {
		// The client retries a refusal for ever, silently; an ACL just
		// granted may take a moment to reach every broker.
		if !refusedAt.IsZero() && time.Since(refusedAt) > authGrace {
			return fmt.Errorf("not authorized to read %s: %w; the principal needs READ on each topic it tails",
				strings.Join(t.topics, ", "), refused)
		}
		switch e := consumer.Poll(100).(type) {
		case *kafka.Message:
			refusedAt = time.Time{}
			if e.TopicPartition.Error != nil {
				fmt.Fprintf(t.env.Stderr, "kafka-broker tail: %v\n", e.TopicPartition.Error)
				continue
			}
			where := fmt.Sprintf("%s/%d@%d", *e.TopicPartition.Topic, e.TopicPartition.Partition, e.TopicPartition.Offset)
			ev, err := core.DecodeRecord(e)
			if err != nil {
				fmt.Fprintf(t.env.Stderr, "kafka-broker tail: %s is not an event %v\n", where, malformed(err))
				continue
			}
			if !filter.match(ev.Event) {
				continue
			}
			if err := t.out.print(ev, where, e.Timestamp); err != nil {
				return err
			}
			if printed++; t.maxEvents > 0 && printed >= t.maxEvents {
				return nil
			}
		case kafka.Error:
			if e.IsFatal() {
				return e
			}
			if e.Code() == kafka.ErrTopicAuthorizationFailed && refusedAt.IsZero() {
				refused, refusedAt = e, time.Now()
			}
			if t.conn.verbose {
				fmt.Fprintf(t.env.Stderr, "kafka-broker tail: %v\n", e)
			}
		}
	}
	return nil
}

// authGrace is how long a refusal to read may last before tail gives up.
const authGrace = 2 * time.Second

// assign assigns every partition of the topics at their start or end offsets,
// read now, so that every record produced after it returns is printed.
func (t *tail) assign(ctx context.Context, c *kafka.Consumer) (int, error) {
	var tps []kafka.TopicPartition
	for _, topic := range t.topics {
		md, err := c.GetMetadata(&topic, false, timeoutMs(ctx))
		if err != nil {
			return 0, fmt.Errorf("read metadata of %s (brokers %s): %w", topic, t.conn.servers(t.env), err)
		}
		tm, ok := md.Topics[topic]
		if !ok || tm.Error.Code() == kafka.ErrUnknownTopicOrPart || len(tm.Partitions) == 0 {
			return 0, fmt.Errorf("topic %q does not exist", topic)
		}
		if tm.Error.Code() != kafka.ErrNoError {
			return 0, fmt.Errorf("topic %s: %w", topic, tm.Error)
		}
		for _, p := range tm.Partitions {
			low, high, err := c.QueryWatermarkOffsets(topic, p.ID, timeoutMs(ctx))
			if err != nil {
				return 0, fmt.Errorf("offsets of %s/%d: %w", topic, p.ID, err)
			}
			off := high
			if t.fromBeginning {
				off = low
			}
			tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.Offset(off)})
		}
	}
	if err := c.Assign(tps); err != nil {
		return 0, err
	}
	return len(tps), nil
}

func timeoutMs(ctx context.Context) int {
	d := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return max(int(d/time.Millisecond), 1)
}

// malformed says why a record is not an event, as the consumer would
// dead-letter it: "(not_json): record value is not valid JSON".
func malformed(err error) string {
	var me *core.MalformedError
	if errors.As(err, &me) {
		return fmt.Sprintf("(%s): %v", me.Kind, me.Err)
	}
	return ": " + err.Error()
}

// eventFilter matches routing keys against patterns with core.EventRouter's
// semantics: each pattern is bound in a router of its own, and an event
// passes when any router routes it.
type eventFilter []*core.EventRouter

func newEventFilter(patterns []string) (eventFilter, error) {
	var f eventFilter
	nop := func(context.Context, *core.EventObject) error { return nil }
	for _, p := range patterns {
		if err := checkPattern(p); err != nil {
			return nil, usagef("--event %q: %v", p, err)
		}
		segs := strings.Split(p, ".")
		root := core.NewEventRouter("tail")
		r := root
		for _, s := range segs[:len(segs)-1] {
			child := core.NewEventRouter(s)
			r.IncludeBinder(child)
			r = child
		}
		r.BindEvent(segs[len(segs)-1], nop)
		f = append(f, root)
	}
	return f, nil
}

func (f eventFilter) match(event string) bool {
	if len(f) == 0 {
		return true
	}
	for _, r := range f {
		if _, ok := r.Match(event); ok {
			return true
		}
	}
	return false
}

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }
