package cli

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestEventFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		patterns []string
		match    []string
		miss     []string
	}{
		{nil, []string{"a", "a.b.c"}, nil},
		{[]string{"order.created"}, []string{"order.created"}, []string{"order", "order.paid", "order.created.x"}},
		{[]string{"order.*"}, []string{"order.created", "order.paid"}, []string{"order", "order.item.added", "user.created"}},
		{[]string{"order.#"}, []string{"order", "order.created", "order.item.added"}, []string{"orders.created", "user.order"}},
		{[]string{"*.failed"}, []string{"order.failed", "payment.failed"}, []string{"failed", "order.item.failed"}},
		{[]string{"#"}, []string{"a", "a.b.c"}, nil},
		{[]string{"#.failed"}, []string{"failed", "a.failed", "a.b.failed"}, []string{"a.failed.not"}},
		{[]string{"order.*", "order.*.added", "user.#"}, []string{"order.x", "order.item.added", "user"}, []string{"order.item.removed"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.patterns, ","), func(t *testing.T) {
			f, err := newEventFilter(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.match {
				if !f.match(e) {
					t.Errorf("%q does not match", e)
				}
			}
			for _, e := range tt.miss {
				if f.match(e) {
					t.Errorf("%q matches", e)
				}
			}
		})
	}
	for _, bad := range []string{"", ".", "a..b", "a."} {
		if _, err := newEventFilter([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestParseFlagsAnywhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		pos     []string
		data    string
		verbose bool
	}{
		{[]string{"t", "e"}, []string{"t", "e"}, "", false},
		{[]string{"--data", "{}", "t", "e"}, []string{"t", "e"}, "{}", false},
		{[]string{"t", "--data", "{}", "e", "--verbose"}, []string{"t", "e"}, "{}", true},
		{[]string{"t", "e", "--data={}"}, []string{"t", "e"}, "{}", false},
		{[]string{"--verbose", "--", "-t", "--data"}, []string{"-t", "--data"}, "", true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := newFlagSet("x", "x <a> <b>", "", "")
			data := fs.String("data", "", "")
			verbose := fs.Bool("verbose", false, "")
			pos, err := fs.parse(tt.args, 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pos, tt.pos) || *data != tt.data || *verbose != tt.verbose {
				t.Errorf("got %q data=%q verbose=%v", pos, *data, *verbose)
			}
		})
	}
}

func TestKafkaProps(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"KAFKA_SECURITY_PROTOCOL":      "SASL_SSL",
		"KAFKA_SASL_MECHANISM":         "PLAIN",
		"KAFKA_SASL_USERNAME":          "u",
		"KAFKA_SASL_PASSWORD":          "p",
		"KAFKA_PROP_SSL_CA_LOCATION":   "/ca.pem",
		"KAFKA_PROP_CLIENT_ID":         "env",
		"KAFKA_BOOTSTRAP_SERVERS":      "b:9092",
		"UNRELATED":                    "x",
		"KAFKA_PROP_":                  "ignored",
		"KAFKA_PROP_MESSAGE_MAX_BYTES": "1000",
	}
	env := Env{
		Getenv: func(k string) string { return vars[k] },
		Environ: func() []string {
			var kv []string
			for k, v := range vars {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
	}
	c := connFlags{props: propsFlag{"client.id": "flag"}}
	got := c.kafkaProps(env)
	want := map[string]any{
		"security.protocol": "SASL_SSL",
		"sasl.mechanism":    "PLAIN",
		"sasl.username":     "u",
		"sasl.password":     "p",
		"ssl.ca.location":   "/ca.pem",
		"message.max.bytes": "1000",
		"client.id":         "flag", // -X wins
		"log_level":         0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if s := c.servers(env); s != "b:9092" {
		t.Errorf("servers = %q", s)
	}
	c.bootstrap = "flag:1"
	if s := c.servers(env); s != "flag:1" {
		t.Errorf("servers = %q, want the flag's", s)
	}
	if s := (&connFlags{}).servers(Env{Getenv: func(string) string { return "" }}); s != DefaultBootstrapServers {
		t.Errorf("servers = %q, want %q", s, DefaultBootstrapServers)
	}
	c.verbose = true
	if _, ok := c.kafkaProps(env)["log_level"]; ok {
		t.Error("--verbose keeps librdkafka quiet")
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, "waiting for the reply")
		time.Sleep(250 * time.Millisecond) // fake time: three frames are drawn
		synctest.Wait()
		p.Set("almost")
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		p.Stop()
		p.Stop()
		out := buf.String()
		for _, want := range []string{
			clearLine + "⠋ waiting for the reply (0.0s)",
			clearLine + "⠙ waiting for the reply (0.1s)",
			clearLine + "⠹ waiting for the reply (0.2s)",
			clearLine + "⠸ almost (0.3s)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%q", want, out)
			}
		}
		if !strings.HasSuffix(out, clearLine) {
			t.Errorf("the line is not cleared at the end: %q", out)
		}
	})
	var nilProgress *progress
	nilProgress.Set("x")
	nilProgress.Stop()
	if p := startProgress(Env{}, &bytes.Buffer{}, "x"); p != nil {
		t.Error("progress drawn on a buffer, not a terminal")
	}
}

func TestReadData(t *testing.T) {
	t.Parallel()
	env := Env{Stdin: strings.NewReader(` {"a": [1, 2]} `)}
	tests := []struct {
		arg, want string
		ok        bool
	}{
		{"", "{}", true},
		{"  ", "{}", true},
		{`{"a":1}`, `{"a":1}`, true},
		{`[1,2]`, `[1,2]`, true},
		{`"text"`, `"text"`, true},
		{"@-", `{"a": [1, 2]}`, true},
		{"@", "", false},
		{"{", "", false},
		{"nope", "", false},
	}
	for _, tt := range tests {
		got, err := readData(env, tt.arg)
		if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
			t.Errorf("readData(%q) = %s, %v", tt.arg, got, err)
		}
	}
}

func TestCheckRoutingKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key     string
		event   bool // a valid event name
		pattern bool // a valid --event pattern
	}{
		{"order.created", true, true},
		{"a", true, true},
		{"order.*", false, true},
		{"#.failed", false, true},
		{"ordér.créé", true, true},
		{"", false, false},
		{"a..b", false, false},
		{".a", false, false},
		{"has space", false, false},
		{"tab\there", false, false},
		{"nl\nhere", false, false},
		{"ctl\x7f", false, false},
		{"nbsp\u00a0x", false, false},
		{"bad\xffutf8", false, false},
		{strings.Repeat("a", 1024), true, true},
		{strings.Repeat("a", 1025), false, false},
		{strings.Repeat("a.", 127) + "a", true, true},
		{strings.Repeat("a.", 128) + "a", false, false},
	}
	for _, tt := range tests {
		if err := checkEvent(tt.key); (err == nil) != tt.event {
			t.Errorf("checkEvent(%q) = %v, want valid %v", tt.key, err, tt.event)
		}
		if err := checkPattern(tt.key); (err == nil) != tt.pattern {
			t.Errorf("checkPattern(%q) = %v, want valid %v", tt.key, err, tt.pattern)
		}
	}
}

func TestTempName(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 12, 45, 1, 0, time.FixedZone("CET", 3600))
	name := tempName(at)
	if !strings.HasPrefix(name, TempPrefix+"20261201T114501Z-") {
		t.Errorf("tempName = %q, want the UTC time after the prefix", name)
	}
	re := regexp.MustCompile(TempTopicPattern)
	for _, n := range []string{name, name + ".replies"} {
		if !re.MatchString(n) {
			t.Errorf("%q does not match TempTopicPattern", n)
		}
	}
	if re.MatchString("kafka-broker-cli-3f9a1c2e.replies") || re.MatchString(name+".dlq") {
		t.Error("TempTopicPattern matches other names")
	}
	if tempName(at) == name {
		t.Error("two names alike")
	}
}

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dur", "soon"}, `--dur: not a duration: "soon"`},
		{[]string{"--num=1.5"}, `--num: not an integer: "1.5"`},
		{[]string{"--on=yes please"}, `--on: not true or false: "yes please"`},
		{[]string{"-X", "k"}, `-X: not key=value: "k"`},
		{[]string{"--format", "xml"}, `--format: not auto, human or json: "xml"`},
		{[]string{"--nope"}, "--nope: no such flag"},
		{[]string{"-Y"}, "-Y: no such flag"},
		{[]string{"--dur"}, "--dur: needs a value"},
	}
	for _, tt := range tests {
		fs := newFlagSet("x", "", "", "")
		var d time.Duration
		var n int
		var b bool
		var props propsFlag
		format := formatFlag("auto")
		fs.DurationVar(&d, "dur", 0, "")
		fs.IntVar(&n, "num", 0, "")
		fs.BoolVar(&b, "on", false, "")
		fs.Var(&props, "X", "")
		fs.Var(&format, "format", "")
		_, err := fs.parse(tt.args, 0, 0)
		var ue *usageError
		if !errors.As(err, &ue) || ue.Error() != tt.want {
			t.Errorf("parse(%q) = %v, want the usage error %q", tt.args, err, tt.want)
		}
	}
}
