package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestRequest(t *testing.T) {
	t.Parallel()
	svc := startResponder(t, mathRouter())
	file := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(file, []byte(`{"n": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		data  string
		want  int
	}{
		{"inline", "", `{"n":21}`, 42},
		{"file", "", "@" + file, 10},
		{"stdin", `{"n": 4}`, "@-", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCmd(t, nil)
			c.stdin = tt.stdin
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r := c.run(ctx, "request", svc.Config().Location, "math.double", "--data", tt.data, "--timeout", "60s")
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "{\n  \"correlation_id\": ") {
				t.Errorf("reply not printed as indented JSON:\n%s", r.stdout)
			}
			var reply core.EventObject
			if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
				t.Fatal(err)
			}
			var data struct{ N int }
			if err := reply.Decode(&data); err != nil || data.N != tt.want {
				t.Errorf("reply data %+v (%v), want n=%d", data, err, tt.want)
			}
			if reply.Status != core.StatusCompleted || len(reply.AuditLog) != 2 {
				t.Fatalf("reply %+v", reply)
			}
			loc := reply.AuditLog[0].Location
			if !regexp.MustCompile(cli.TempTopicPattern).MatchString(loc+".replies") || reply.AuditLog[1].Location != svc.Config().Location {
				t.Errorf("audit trail %+v, want %s then %s", reply.AuditLog, cli.TempTopicPattern, svc.Config().Location)
			}
			// A requester only: its reply topic is gone, and it never had a
			// Location topic or a consumer group.
			assertNoTopics(t, loc, loc+".replies")
			assertNoGroup(t, loc)
		})
	}
}

func TestRequestWithLocation(t *testing.T) {
	t.Parallel()
	svc := startResponder(t, mathRouter())
	loc := kafkatest.Name(t, "cli")
	r := run(t, map[string]string{"KAFKA_LOCATION": loc}, "request", svc.Config().Location, "math.double",
		"--data", `{"n":1}`, "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var reply core.EventObject
	if err := json.Unmarshal([]byte(r.stdout), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.AuditLog[0].Location != loc {
		t.Errorf("request sent from %q, want KAFKA_LOCATION %q", reply.AuditLog[0].Location, loc)
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	svc := startResponder(t, mathRouter())
	r := run(t, nil, "request", svc.Config().Location, "math.ignore", "--timeout", "1s")
	if r.code != cli.ExitTimeout {
		t.Fatalf("exit %d, want %d\n%s", r.code, cli.ExitTimeout, r.stderr)
	}
	if !strings.Contains(r.stderr, "no reply to math.ignore") || !strings.Contains(r.stderr, "within 1s") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
}

func TestRequestInterrupted(t *testing.T) {
	t.Parallel()
	received := make(chan struct{})
	r := core.NewEventRouter("slow")
	r.BindEvent("op", func(context.Context, *core.EventObject) error {
		close(received)
		return nil // never replies
	})
	svc := startResponder(t, r)
	c := newCmd(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- c.run(ctx, "request", svc.Config().Location, "slow.op", "--timeout", "5m") }()
	select {
	case <-received:
	case res := <-done:
		t.Fatalf("request ended early: exit %d\n%s", res.code, res.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatal("the request never reached the responder")
	}
	cancel() // Ctrl-C
	res := <-done
	if res.code != cli.ExitInterrupted || !strings.Contains(res.stderr, "interrupted") {
		t.Fatalf("exit %d, stderr %q; want %d and 'interrupted'", res.code, res.stderr, cli.ExitInterrupted)
	}
}

// TestReplyTopicNotRecreated checks that the reply topic request created
// and deleted stays deleted when a reply comes late: the responder answers
// once (so it knows the topic exists), the command prints the reply and
// deletes the topic, then the responder answers again, as a responder
// delivering at least once does after a rebalance. The second reply fails
// and creates nothing, though the embedded broker allows auto-creation: the
// library's producer never asks for it.
func TestReplyTopicNotRecreated(t *testing.T) {
	t.Parallel()
	held := make(chan *core.EventObject, 1)
	r := core.NewEventRouter("twice")
	r.BindEvent("op", func(ctx context.Context, ev *core.EventObject) error {
		held <- ev
		m, _ := core.FromContext(ctx)
		return m.Reply(ctx, ev, map[string]string{"reply": "first"})
	})
	// librdkafka waits this long (30s by default) for a topic that vanished
	// to come back before it fails what was sent to it.
	svc := startResponderWith(t, r, map[string]any{"topic.metadata.propagation.max.ms": 1000})
	res := run(t, nil, "request", svc.Config().Location, "twice.op", "--timeout", "60s")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "delete") {
		t.Errorf("stderr: %s", res.stderr)
	}
	req := <-held
	replyTopic := req.AuditLog[0].Location + ".replies"
	assertNoTopics(t, replyTopic)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := svc.Reply(ctx, req, map[string]string{"reply": "late"}); err == nil {
		t.Error("the late reply was delivered")
	} else {
		t.Logf("late reply: %v", err)
	}
	assertNoTopics(t, replyTopic)
}
