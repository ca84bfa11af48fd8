package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultBootstrapServers is where the commands look for Kafka when neither
// --bootstrap-servers nor KAFKA_BOOTSTRAP_SERVERS says otherwise: the
// address of `kafka-broker dev`.
const DefaultBootstrapServers = "localhost:9092"

// connFlags are the flags shared by the commands that talk to Kafka.
type connFlags struct {
	bootstrap      string
	props          propsFlag
	connectTimeout time.Duration
	verbose        bool
}

func (c *connFlags) register(fs *flagSet) {
	fs.StringVar(&c.bootstrap, "bootstrap-servers", "",
		"Kafka brokers as `host:port,...` (env KAFKA_BOOTSTRAP_SERVERS; default "+DefaultBootstrapServers+")")
	fs.Var(&c.props, "X", "librdkafka property `key=value`, repeatable: -X security.protocol=SASL_SSL; wins over the environment")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 30*time.Second,
		"how long to wait for the broker: to reach it and get ready to send (or read)")
	fs.BoolVar(&c.verbose, "verbose", false, "log the client's activity to stderr")
}

const connEnvHelp = `  KAFKA_BOOTSTRAP_SERVERS   --bootstrap-servers
  KAFKA_SECURITY_PROTOCOL   librdkafka security.protocol
  KAFKA_SASL_MECHANISM      librdkafka sasl.mechanism
  KAFKA_SASL_USERNAME       librdkafka sasl.username
  KAFKA_SASL_PASSWORD       librdkafka sasl.password
  KAFKA_PROP_<NAME>         any librdkafka property: KAFKA_PROP_SSL_CA_LOCATION=/ca.pem
                            sets ssl.ca.location (underscores become dots)
  A property librdkafka does not know, or a value it refuses, is a usage
  error (exit 2) naming the variable or -X flag.`

func (c *connFlags) servers(env Env) string {
	if c.bootstrap != "" {
		return c.bootstrap
	}
	if s := env.getenv("KAFKA_BOOTSTRAP_SERVERS"); s != "" {
		return s
	}
	return DefaultBootstrapServers
}

// kafkaProps returns the librdkafka properties from the environment, as
// core.ConfigFromEnv reads them (core.KafkaPropsFromEnv), overridden by -X.
func (c *connFlags) kafkaProps(env Env) map[string]any {
	props := core.KafkaPropsFromEnv(env.environ())
	for k, v := range c.props {
		props[k] = v
	}
	if !c.verbose {
		if _, ok := props["log_level"]; !ok {
			// librdkafka prints connection failures itself; the commands
			// report them in one clear line instead.
			props["log_level"] = 0
		}
	}
	return props
}

// checkProps checks each librdkafka property of the environment and of -X
// on its own, before anything connects: a property librdkafka does not
// know, or a value it refuses, is a usage error naming where it came from.
func (c *connFlags) checkProps(env Env) error {
	type source struct{ from, prop, value string }
	var sources []source
	for _, kv := range env.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if prop, ok := core.KafkaEnvProp(k); ok {
			sources = append(sources, source{k, prop, v})
		}
	}
	for k, v := range c.props {
		sources = append(sources, source{"-X " + k, k, v})
	}
	for _, s := range sources {
		if s.prop == "bootstrap.servers" || s.prop == "metadata.broker.list" {
			continue // any text; a producer with brokers would connect
		}
		// Setting a property checks its name and value; a producer with no
		// brokers connects nowhere.
		cm := kafka.ConfigMap{s.prop: s.value}
		if s.prop != "log_level" {
			cm["log_level"] = 0
		}
		p, err := kafka.NewProducer(&cm)
		if err == nil {
			p.Close()
			continue
		}
		var kerr kafka.Error
		if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrInvalidArg {
			return fmt.Errorf("%s: %w", s.from, err)
		}
		switch msg := kerr.Error(); {
		case strings.HasPrefix(msg, "No such configuration property"):
			return usagef("%s: no such librdkafka property: %q", s.from, s.prop)
		case strings.Contains(msg, "Invalid value"), strings.HasPrefix(msg, "Expected "):
			return usagef("%s: invalid value for librdkafka property %s: %q", s.from, s.prop, s.value)
		}
		// Otherwise the property needs others (security.protocol=SASL_SSL
		// wants sasl.mechanisms, GSSAPI by default): the client that uses
		// them all says so.
	}
	return nil
}

// clientConfig is a librdkafka configuration for a client of our own.
func (c *connFlags) clientConfig(env Env, defaults kafka.ConfigMap) *kafka.ConfigMap {
	cm := kafka.ConfigMap{
		"bootstrap.servers": c.servers(env),
		// As the library's clients: bootstrap again 5 s after no broker is
		// left (a broker fenced for a moment lists none), not 5 minutes.
		"metadata.recovery.rebootstrap.trigger.ms": 5000,
	}
	for k, v := range defaults {
		cm[k] = v
	}
	for k, v := range c.kafkaProps(env) {
		cm[k] = v
	}
	return &cm
}

func (c *connFlags) logger(env Env) *slog.Logger {
	if c.verbose {
		return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// connect returns the context of a command's connecting phase: reaching the
// broker and getting ready, all within --connect-timeout.
func (c *connFlags) connect(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.connectTimeout)
}

// timedOut wraps err, the failure of a connecting phase that ran out of
// --connect-timeout, so that it says so.
func (c *connFlags) timedOut(env Env, what string, err error) error {
	return fmt.Errorf("%s: no Kafka broker answered at %s within --connect-timeout %v: %w\n  %s",
		what, c.servers(env), c.connectTimeout, err, reachHint)
}

const reachHint = "start a local broker with `kafka-broker dev`, or point --bootstrap-servers (KAFKA_BOOTSTRAP_SERVERS) at Kafka"

// reach fails fast, with a clear message, when no bootstrap server accepts a
// TCP connection; the Kafka clients would otherwise retry until a timeout.
func (c *connFlags) reach(ctx context.Context, env Env) error {
	servers := c.servers(env)
	timeout := min(c.connectTimeout, 5*time.Second)
	var errs []error
	for _, s := range strings.Split(servers, ",") {
		addr := strings.TrimSpace(s)
		if i := strings.Index(addr, "://"); i >= 0 {
			addr = addr[i+3:]
		}
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, strconv.Itoa(9092))
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ctx.Err()
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return usagef("no bootstrap servers in %q", servers)
	}
	return fmt.Errorf("cannot reach Kafka at %s: %w\n  %s", servers, errors.Join(errs...), reachHint)
}
