package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 30*time.Second, "how long to wait for the broker")
	fs.BoolVar(&c.verbose, "verbose", false, "log the client's activity to stderr")
}

const connEnvHelp = `  KAFKA_BOOTSTRAP_SERVERS   --bootstrap-servers
  KAFKA_SECURITY_PROTOCOL   librdkafka security.protocol
  KAFKA_SASL_MECHANISM      librdkafka sasl.mechanism
  KAFKA_SASL_USERNAME       librdkafka sasl.username
  KAFKA_SASL_PASSWORD       librdkafka sasl.password
  KAFKA_PROP_<NAME>         any librdkafka property: KAFKA_PROP_SSL_CA_LOCATION=/ca.pem
                            sets ssl.ca.location (underscores become dots)`

func (c *connFlags) servers(env Env) string {
	if c.bootstrap != "" {
		return c.bootstrap
	}
	if s := env.getenv("KAFKA_BOOTSTRAP_SERVERS"); s != "" {
		return s
	}
	return DefaultBootstrapServers
}

// kafkaProps returns the librdkafka properties from the environment, the way
// core.ConfigFromEnv reads them, overridden by -X.
func (c *connFlags) kafkaProps(env Env) map[string]any {
	props := map[string]any{}
	for v, prop := range map[string]string{
		"KAFKA_SECURITY_PROTOCOL": "security.protocol",
		"KAFKA_SASL_MECHANISM":    "sasl.mechanism",
		"KAFKA_SASL_USERNAME":     "sasl.username",
		"KAFKA_SASL_PASSWORD":     "sasl.password",
	} {
		if s := env.getenv(v); s != "" {
			props[prop] = s
		}
	}
	for _, kv := range env.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "KAFKA_PROP_"); ok && name != "" {
			props[strings.ToLower(strings.ReplaceAll(name, "_", "."))] = v
		}
	}
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

// clientConfig is a librdkafka configuration for a client of our own.
func (c *connFlags) clientConfig(env Env, defaults kafka.ConfigMap) *kafka.ConfigMap {
	cm := kafka.ConfigMap{"bootstrap.servers": c.servers(env)}
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
			addr = net.JoinHostPort(addr, "9092")
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, err)
	}
	hint := "start a local broker with `kafka-broker dev`, or point --bootstrap-servers (KAFKA_BOOTSTRAP_SERVERS) at Kafka"
	if len(errs) == 0 {
		return usagef("no bootstrap servers in %q", servers)
	}
	return fmt.Errorf("cannot reach Kafka at %s: %w\n  %s", servers, errors.Join(errs...), hint)
}

// randomName returns prefix followed by 8 random hex digits.
func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = io.ReadFull(rand.Reader, b)
	return prefix + hex.EncodeToString(b)
}

func checkTopic(t string) error {
	if !core.ValidTopic(t) {
		return usagef("invalid topic name %q (letters, digits, '.', '_' and '-', at most 249)", t)
	}
	return nil
}

// checkEvent checks a routing key: dot-separated, non-empty segments.
func checkEvent(e string) error {
	if e == "" {
		return usagef("the event name is empty")
	}
	for _, seg := range strings.Split(e, ".") {
		if seg == "" {
			return usagef("invalid event name %q: empty segment", e)
		}
	}
	return nil
}
