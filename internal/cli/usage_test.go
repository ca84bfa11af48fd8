package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Usage:", "dev", "request", "produce", "tail"}},
		{[]string{"help", "tail"}, []string{"Usage: kafka-broker tail"}},
		{[]string{"dev", "--help"}, []string{"Usage: kafka-broker dev", "--port", "--partitions", "in memory only", "Ctrl-C"}},
		{[]string{"request", "-h"}, []string{
			"Usage: kafka-broker request <topic> <event>", "--data", "--timeout", "--location", "--group-id",
			"--reply-topic", "--bootstrap-servers", "--connect-timeout", "-X", "--verbose",
			"KAFKA_LOCATION", "KAFKA_REQUEST_TIMEOUT", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PROP_<NAME>",
			"requester only", "kafka-broker-cli-<UTC start time>", `(\.replies)?$`, "Python kafka-broker services",
			"non-empty segments", "white", "space", "Exit status", "3    no reply within --timeout",
		}},
		{[]string{"produce", "--help"}, []string{
			"Usage: kafka-broker produce <topic> <event>", "--data", "--format", "--correlation-id",
			"--location", "KAFKA_LOCATION", "KAFKA_SASL_USERNAME", "Exit status", "non-empty segments",
		}},
		{[]string{"tail", "--help"}, []string{
			"Usage: kafka-broker tail <topic>...", "--from-beginning", "--event", "--max-events", "--format",
			`"*" matches exactly one segment`, "KAFKA_BOOTSTRAP_SERVERS", "Exit status",
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestUsageErrors checks that bad input is refused with exit 2 before any
// broker is contacted: the broker given is unreachable, which would be exit 1.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"id": 1,}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", nil, []string{"consume"}, `unknown command "consume"`},
		{"unknown flag", nil, []string{"request", "orders", "order.get", "--bogus"}, "--bogus: no such flag"},
		{"unknown flag before args", nil, []string{"tail", "--nope", "orders"}, "--nope: no such flag"},
		{"flag without value", nil, []string{"request", "orders", "order.get", "--data"}, "--data: needs a value"},
		{"missing args", nil, []string{"request", "orders"}, "missing arguments"},
		{"too many args", nil, []string{"produce", "orders", "a", "b"}, "too many arguments"},
		{"invalid JSON", nil, []string{"request", "orders", "order.get", "--data", `{"id":`}, "invalid JSON in --data"},
		{"invalid JSON produce", nil, []string{"produce", "orders", "order.new", "--data", "{id: 1}"}, "invalid JSON in --data"},
		{"invalid JSON file", nil, []string{"produce", "orders", "order.new", "--data", "@" + badFile}, "invalid JSON in " + badFile},
		{"missing data file", nil, []string{"request", "orders", "order.get", "--data", "@" + filepath.Join(dir, "nope.json")}, "no such file"},
		{"bad timeout", nil, []string{"request", "orders", "order.get", "--timeout", "banana"}, `--timeout: not a duration: "banana"`},
		{"bad connect timeout", nil, []string{"tail", "orders", "--connect-timeout", "3"}, `--connect-timeout: not a duration: "3"`},
		{"bad max events", nil, []string{"tail", "orders", "--max-events", "many"}, `--max-events: not an integer: "many"`},
		{"bad bool", nil, []string{"tail", "orders", "--verbose=maybe"}, `--verbose: not true or false: "maybe"`},
		{"negative timeout", nil, []string{"request", "orders", "order.get", "--timeout", "-1s"}, "--timeout: must be positive: -1s"},
		{"bad env timeout", map[string]string{"KAFKA_REQUEST_TIMEOUT": "soon"}, []string{"request", "orders", "order.get"}, `KAFKA_REQUEST_TIMEOUT: not a duration: "soon"`},
		{"data an array", nil, []string{"request", "orders", "order.get", "--data", "[1,2]"}, "--data: not a JSON object but an array"},
		{"data a string", nil, []string{"request", "orders", "order.get", "--data", `"x"`}, "--data: not a JSON object but a string"},
		{"event with a space", nil, []string{"produce", "orders", "has space"}, `invalid event name "has space": white space`},
		{"request event with a space", nil, []string{"request", "orders", "order get"}, `invalid event name "order get": white space`},
		{"event with a tab", nil, []string{"produce", "orders", "order.\tx"}, "white space or a control character"},
		{"event with a control character", nil, []string{"produce", "orders", "order.\x01x"}, "control character"},
		{"event with a wildcard", nil, []string{"produce", "orders", "order.*"}, `"*" is a wildcard`},
		{"event too long", nil, []string{"produce", "orders", strings.Repeat("a", 1025)}, "longer than 1024 bytes"},
		{"event with too many segments", nil, []string{"request", "orders", strings.Repeat("a.", 128) + "a"}, "more than 128 segments"},
		{"bad produce topic", nil, []string{"produce", "my orders", "order.new"}, `invalid topic name "my orders"`},
		{"bad env property value", map[string]string{"KAFKA_PROP_LINGER_MS": "abc"}, []string{"produce", "orders", "order.new"},
			`KAFKA_PROP_LINGER_MS: invalid value for librdkafka property linger.ms: "abc"`},
		{"bad env property bool", map[string]string{"KAFKA_PROP_ENABLE_IDEMPOTENCE": "maybe"}, []string{"request", "orders", "order.get"},
			`KAFKA_PROP_ENABLE_IDEMPOTENCE: invalid value for librdkafka property enable.idempotence: "maybe"`},
		{"bad env security protocol", map[string]string{"KAFKA_SECURITY_PROTOCOL": "bogus"}, []string{"tail", "orders"},
			`KAFKA_SECURITY_PROTOCOL: invalid value for librdkafka property security.protocol: "bogus"`},
		{"unknown property", nil, []string{"tail", "orders", "-X", "foo.bar=1"}, `-X foo.bar: no such librdkafka property: "foo.bar"`},
		{"bad reply topic", nil, []string{"request", "orders", "order.get", "--reply-topic", "a b"}, "--reply-topic"},
		{"bad topic", nil, []string{"request", "my orders", "order.get"}, `invalid topic name "my orders"`},
		{"bad event", nil, []string{"produce", "orders", "order..get"}, "empty segment"},
		{"bad location", map[string]string{"KAFKA_LOCATION": "not/valid"}, []string{"request", "orders", "order.get"}, "--location"},
		{"bad pattern", nil, []string{"tail", "orders", "--event", "order."}, `--event "order."`},
		{"bad format", nil, []string{"tail", "orders", "--format", "xml"}, `--format: not auto, human or json: "xml"`},
		{"bad property", nil, []string{"tail", "orders", "-X", "novalue"}, `-X: not key=value: "novalue"`},
		{"bad port", nil, []string{"dev", "--port", "70000"}, "--port: not a port (0 to 65535): 70000"},
		{"dev args", nil, []string{"dev", "extra"}, "too many arguments"},
	}
	unreachable := kafkatest.ClosedAddr(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"KAFKA_BOOTSTRAP_SERVERS": unreachable}
			for k, v := range tt.vars {
				vars[k] = v
			}
			r := run(t, vars, tt.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d", r.code, cli.ExitUsage)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
		})
	}
}
