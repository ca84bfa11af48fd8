package cli

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestEventFilter(t *testing.T) {
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
