package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultProduceLocation is the Location produce writes in the audit trail
// when neither --location nor KAFKA_LOCATION names one.
const DefaultProduceLocation = "kafka-broker-cli"

const produceAbout = `
Sends an event (an EventObject) to <topic> with routing key <event>, waits
until the broker acknowledged it, and prints it, audit trail included: one
readable line on a terminal, one JSON object when piped (see --format).

The audit trail names the sender's Location: --location, else KAFKA_LOCATION,
else kafka-broker-cli. A Python kafka-broker service replies to that topic.

` + eventRule + ` The data may be any JSON value;
services decode it into an object, so send one unless you know better.`

const produceMore = `
Environment (flags win):
  KAFKA_LOCATION            --location
` + connEnvHelp + `

Exit status:
  0    the broker acknowledged the event
  1    error: the broker cannot be reached, the send failed, ...
  2    bad flags, arguments, --data or environment
  130  interrupted (Ctrl-C)

Examples:
  kafka-broker produce orders order.created --data '{"id":42}'
  kafka-broker produce orders order.created --create    # the topic may not exist yet
  kafka-broker produce orders order.created --data @order.json --format json`

func runProduce(ctx context.Context, env Env, args []string) int {
	var (
		c        connFlags
		data     string
		location string
		id       string
		create   bool
		format   = formatFlag("auto")
	)
	fs := newFlagSet("produce", "produce <topic> <event> [flags]", produceAbout, produceMore)
	fs.StringVar(&data, "data", "", dataHelp)
	fs.StringVar(&location, "location", "", "the sender's `topic` in the audit trail (env KAFKA_LOCATION; default "+DefaultProduceLocation+")")
	fs.StringVar(&id, "correlation-id", "", "the event's correlation `ID` (default a new UUIDv4)")
	fs.BoolVar(&create, "create", false, "let the broker create <topic> when it does not exist (its auto.create.topics.enable must allow it)")
	fs.Var(&format, "format", formatHelp)
	c.register(fs)
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return fs.fail(env, err)
	}
	topic, event := pos[0], pos[1]
	if create {
		_ = c.props.Set("allow.auto.create.topics=true")
	}
	if err := produce(ctx, env, c, topic, event, data, location, id, format); err != nil {
		return fail(env, "produce", err)
	}
	return ExitOK
}

func produce(ctx context.Context, env Env, c connFlags, topic, event, data, location, id string, format formatFlag) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	if err := checkEvent(event); err != nil {
		return err
	}
	raw, err := readData(env, data)
	if err != nil {
		return err
	}
	if location == "" {
		location = env.getenv("KAFKA_LOCATION")
	}
	if location == "" {
		location = DefaultProduceLocation
	}
	if err := checkTopic(location); err != nil {
		return usagef("--location: %v", err)
	}
	ev, err := core.NewEventObject(event, raw)
	if err != nil {
		return usagef("%v", err)
	}
	if id != "" {
		ev.CorrelationID = id
	}

	if err := c.checkProps(env); err != nil {
		return err
	}
	// Reaching the broker and the acknowledgement, within --connect-timeout.
	sendCtx, cancel := c.connect(ctx)
	defer cancel()
	if err := c.reach(sendCtx, env); err != nil {
		return err
	}
	m, err := core.NewManager(core.Config{
		BootstrapServers: c.servers(env),
		Location:         location,
		Kafka:            c.kafkaProps(env),
	}, core.WithLogger(c.logger(env)))
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			c.logger(env).Warn("close", "error", err)
		}
	}()

	p := startProgress(env, env.Stderr, "sending to "+topic)
	sent := time.Now()
	err = m.Produce(sendCtx, topic, ev)
	p.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if sendCtx.Err() != nil {
			return c.timedOut(env, "send to "+topic, err)
		}
		if errors.Is(err, core.ErrUnknownTopic) {
			return fmt.Errorf("%w\n  --create lets the broker create it", err)
		}
		return err
	}

	// Show the event as it went out: Produce appended this hop to the trail.
	out := ev.Clone()
	out.AuditLog = append(out.AuditLog, core.AuditEntry{
		Data:     out.Data,
		Event:    out.Event,
		Location: location,
		TimeSent: sent.Unix(),
	})
	pr := printer{w: env.Stdout, human: format.human(env, env.Stdout)}
	return pr.print(out, "→ "+topic, sent)
}
