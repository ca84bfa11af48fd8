package securetest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/cli"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/securetest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// The SCRAM users scripts/kafka creates besides the superuser.
const (
	ordersUser  = "svc-orders"
	billingUser = "svc-billing"
	badUser     = "bad-acl"
)

// startTimeLimit is how soon a start that cannot succeed must fail: well
// inside the 30 s its ctx allows, so the failure is not a timeout.
const startTimeLimit = 10 * time.Second

// newManager returns a manager of user on location, closed when the test ends.
func newManager(t *testing.T, b *securetest.Broker, user, location string, tweak func(*core.Config)) *core.Manager {
	t.Helper()
	cfg := kafkatest.Config(t, "unused")
	cfg.Location = location
	cfg.Kafka = b.Props(t, user)
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// initConsumer runs InitConsumer with a 30 s ctx and reports how long it took.
func initConsumer(m *core.Manager) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	err := m.InitConsumer(ctx)
	return time.Since(t0), err
}

// TestServicePrincipals runs two services, each as its own SCRAM user with
// only the ACLs of securetest.Service.ACLs (the README's table): orders sends
// requests and events to billing, billing answers and dead-letters what it
// cannot handle. Both create their own topics. In the transactional case
// billing runs in exactly-once mode, with the transactional-id ACLs besides.
func TestServicePrincipals(t *testing.T) {
	for _, transactional := range []bool{false, true} {
		name := "at-least-once"
		if transactional {
			name = "transactional"
		}
		t.Run(name, func(t *testing.T) { testServicePrincipals(t, transactional) })
	}
}

func testServicePrincipals(t *testing.T, transactional bool) {
	b := securetest.FromEnv(t)
	orders := securetest.Service{User: ordersUser, Location: kafkatest.Name(t, "orders")}
	billing := securetest.Service{User: billingUser, Location: kafkatest.Name(t, "billing")}
	orders.Calls = []string{billing.Location}
	billing.Answers = []string{orders.Location}
	if transactional {
		billing.TransactionalID = billing.Location + ".tx"
	}
	b.Grant(t, orders.ACLs())
	b.Grant(t, billing.ACLs())

	bm := newManager(t, b, billingUser, billing.Location, func(c *core.Config) {
		c.MaxAttempts = 1
		if transactional {
			c.Transactional, c.TransactionalID = true, billing.TransactionalID
			c.TransactionInterval = 50 * time.Millisecond
		}
	})
	r := core.NewEventRouter("bill")
	root := core.NewEventRouter("root")
	root.IncludeBinder(r)
	r.BindEvent("charge", func(ctx context.Context, ev *core.EventObject) error {
		var in struct{ N int }
		if err := ev.Decode(&in); err != nil {
			return err
		}
		return bm.Reply(ctx, ev, map[string]int{"charged": in.N})
	})
	r.BindEvent("refuse", func(context.Context, *core.EventObject) error {
		return core.Permanent(errors.New("card declined"))
	})
	bm.SetRouter(root)
	if _, err := initConsumer(bm); err != nil {
		t.Fatalf("billing InitConsumer: %v", err)
	}
	om := newManager(t, b, ordersUser, orders.Location, nil)
	if _, err := initConsumer(om); err != nil {
		t.Fatalf("orders InitConsumer: %v", err)
	}

	ctx := kafkatest.Context(t, 60*time.Second)
	for i := range 20 {
		ev, _ := core.NewEventObject("bill.charge", map[string]int{"n": i})
		reply, err := om.Request(ctx, billing.Location, ev)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var out struct{ Charged int }
		if err := reply.Decode(&out); err != nil || out.Charged != i {
			t.Fatalf("reply %d: %+v, %v", i, out, err)
		}
	}
	ev, _ := core.NewEventObject("bill.refuse", nil)
	if err := om.Produce(ctx, billing.Location, ev); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// Read as the superuser (the tier's KAFKA_PROP_* settings).
	dl := kafkatest.ReadTopic(t, billing.Location+".dlq", 1, 30*time.Second)[0]
	if string(dl.Key) != ev.CorrelationID || !strings.Contains(kafkatest.Header(dl, core.HeaderDLTError), "card declined") {
		t.Fatalf("dead letter %s with error %q; want %s, card declined", dl.Key, kafkatest.Header(dl, core.HeaderDLTError), ev.CorrelationID)
	}
}

// TestMissingACL takes one ACL of a service's set away at a time: the start,
// the Produce or the Reply that needs it fails with an error naming the
// resource and the operation, and a start fails at once, not at its ctx.
func TestMissingACL(t *testing.T) {
	b := securetest.FromEnv(t)
	startCases := []struct {
		name string
		acls func(s securetest.Service) kafka.ACLBindings // the service's set but one
		want func(s securetest.Service) string
		// transactional: the service runs in exactly-once mode
		transactional bool
	}{
		{"group READ",
			func(s securetest.Service) kafka.ACLBindings {
				return securetest.Without(s.ACLs(), kafka.ResourceGroup, s.Location, kafka.ACLOperationRead)
			},
			func(s securetest.Service) string { return "needs READ on group " + s.Location }, false},
		{"Location READ",
			func(s securetest.Service) kafka.ACLBindings {
				return securetest.Without(s.ACLs(), kafka.ResourceTopic, s.Location, kafka.ACLOperationRead)
			},
			func(s securetest.Service) string { return "needs READ on topic " + s.Location }, false},
		{"reply topic READ",
			func(s securetest.Service) kafka.ACLBindings {
				return securetest.Without(s.ACLs(), kafka.ResourceTopic, s.Location+".replies", kafka.ACLOperationRead)
			},
			func(s securetest.Service) string { return "needs READ on topic " + s.Location + ".replies" }, false},
		{"Location CREATE",
			func(s securetest.Service) kafka.ACLBindings {
				return securetest.Without(s.ACLs(), kafka.ResourceTopic, s.Location, kafka.ACLOperationCreate)
			},
			func(s securetest.Service) string { return "needs CREATE on topic " + s.Location }, false},
		{"transactional-id WRITE",
			func(s securetest.Service) kafka.ACLBindings {
				return securetest.Without(s.ACLs(), securetest.ResourceTransactionalID, s.TransactionalID, kafka.ACLOperationWrite)
			},
			func(s securetest.Service) string {
				return "needs WRITE on transactional-id " + s.TransactionalID
			}, true},
	}
	for _, tt := range startCases {
		t.Run(tt.name, func(t *testing.T) {
			s := securetest.Service{User: badUser, Location: kafkatest.Name(t, "svc")}
			var tweak func(*core.Config)
			if tt.transactional {
				s.TransactionalID = s.Location + ".tx"
				tweak = func(c *core.Config) { c.Transactional, c.TransactionalID = true, s.TransactionalID }
			}
			b.Grant(t, tt.acls(s))
			m := newManager(t, b, badUser, s.Location, tweak)
			took, err := initConsumer(m)
			if err == nil || !strings.Contains(err.Error(), tt.want(s)) {
				t.Fatalf("InitConsumer = %v; want an error saying %q", err, tt.want(s))
			}
			if took > startTimeLimit {
				t.Fatalf("InitConsumer failed after %v; want within %v", took, startTimeLimit)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}

	t.Run("WRITE on a called topic", func(t *testing.T) {
		target := kafkatest.Name(t, "target")
		createTopic(t, b, target)
		s := securetest.Service{User: badUser, Location: kafkatest.Name(t, "svc")}
		b.Grant(t, s.ACLs()) // Calls left out
		m := newManager(t, b, badUser, s.Location, nil)
		if _, err := initConsumer(m); err != nil {
			t.Fatalf("InitConsumer: %v", err)
		}
		ev, _ := core.NewEventObject("x", nil)
		err := m.Produce(kafkatest.Context(t, 30*time.Second), target, ev)
		if want := "needs WRITE on topic " + target; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Produce = %v; want an error saying %q", err, want)
		}
		t.Logf("%v", err)
	})

	t.Run("WRITE on the caller's reply topic", func(t *testing.T) {
		caller := securetest.Service{User: ordersUser, Location: kafkatest.Name(t, "caller")}
		s := securetest.Service{User: badUser, Location: kafkatest.Name(t, "svc")}
		caller.Calls = []string{s.Location}
		b.Grant(t, caller.ACLs())
		b.Grant(t, s.ACLs()) // Answers left out
		sm := newManager(t, b, badUser, s.Location, func(c *core.Config) { c.MaxAttempts = 1 })
		r := core.NewEventRouter("q")
		r.BindEvent("ask", func(ctx context.Context, ev *core.EventObject) error { return sm.Reply(ctx, ev, nil) })
		root := core.NewEventRouter("root")
		root.IncludeBinder(r)
		sm.SetRouter(root)
		if _, err := initConsumer(sm); err != nil {
			t.Fatalf("InitConsumer: %v", err)
		}
		cm := newManager(t, b, ordersUser, caller.Location, nil)
		if _, err := initConsumer(cm); err != nil {
			t.Fatalf("caller InitConsumer: %v", err)
		}
		ev, _ := core.NewEventObject("q.ask", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := cm.Request(ctx, s.Location, ev); !errors.Is(err, core.ErrReplyTimeout) {
			t.Fatalf("Request = %v; want ErrReplyTimeout", err)
		}
		dl := kafkatest.ReadTopic(t, s.Location+".dlq", 1, 30*time.Second)[0]
		got := kafkatest.Header(dl, core.HeaderDLTError)
		if want := "needs WRITE on topic " + caller.Location + ".replies"; !strings.Contains(got, want) {
			t.Fatalf("dead letter error %q; want it to say %q", got, want)
		}
		t.Logf("dead-lettered with: %s", got)
	})
}

// createTopic creates topic as the superuser.
func createTopic(t *testing.T, b *securetest.Broker, topic string) {
	t.Helper()
	res, err := b.Admin(t).CreateTopics(kafkatest.Context(t, 30*time.Second),
		[]kafka.TopicSpecification{{Topic: topic, NumPartitions: 1, ReplicationFactor: -1}})
	if err != nil || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("create topic %s: %v %v", topic, err, res)
	}
}

// TestWrongPassword: InitConsumer fails soon, saying authentication failed.
func TestWrongPassword(t *testing.T) {
	b := securetest.FromEnv(t)
	m := newManager(t, b, "admin", kafkatest.Name(t, "svc"), func(c *core.Config) { c.Kafka["sasl.password"] = "not-the-password" })
	took, err := initConsumer(m)
	var kerr kafka.Error
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || !errors.As(err, &kerr) || kerr.Code() != kafka.ErrAuthentication {
		t.Fatalf("InitConsumer = %v; want authentication failed (ErrAuthentication)", err)
	}
	if took > startTimeLimit {
		t.Fatalf("InitConsumer failed after %v; want within %v", took, startTimeLimit)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
}

// TestUnknownCA: a client that trusts another CA than the one that signed the
// broker's certificate fails soon, saying the TLS handshake failed.
func TestUnknownCA(t *testing.T) {
	b := securetest.FromEnv(t)
	ca := filepath.Join(t.TempDir(), "other-ca.pem")
	writeCA(t, ca)
	m := newManager(t, b, "admin", kafkatest.Name(t, "svc"), func(c *core.Config) { c.Kafka["ssl.ca.location"] = ca })
	took, err := initConsumer(m)
	if err == nil || !strings.Contains(err.Error(), "TLS handshake failed") || !strings.Contains(err.Error(), "certificate verify failed") {
		t.Fatalf("InitConsumer = %v; want TLS handshake failed: certificate verify failed", err)
	}
	if took > startTimeLimit {
		t.Fatalf("InitConsumer failed after %v; want within %v", took, startTimeLimit)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
}

// writeCA writes a self-signed CA certificate that signed nothing to path.
func writeCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "some other CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRedriveWithItsACLs redrives a service's dead letter as a principal
// with only the ACLs the README lists for a redriver: the event reaches the
// service again and is handled once.
func TestRedriveWithItsACLs(t *testing.T) {
	b := securetest.FromEnv(t)
	billing := securetest.Service{User: billingUser, Location: kafkatest.Name(t, "billing")}
	b.Grant(t, billing.ACLs())
	bm := newManager(t, b, billingUser, billing.Location, func(c *core.Config) { c.MaxAttempts = 1 })
	var fixed atomic.Bool
	handled := make(chan string, 1)
	r := core.NewEventRouter("root")
	r.BindEvent("charge", func(_ context.Context, ev *core.EventObject) error {
		if !fixed.Load() {
			return core.Permanent(errors.New("card declined"))
		}
		handled <- ev.CorrelationID
		return nil
	})
	bm.SetRouter(r)
	if _, err := initConsumer(bm); err != nil {
		t.Fatalf("billing InitConsumer: %v", err)
	}
	ctx := kafkatest.Context(t, 60*time.Second)
	ev, _ := core.NewEventObject("charge", nil)
	// Sent as the superuser (the tier's KAFKA_PROP_* settings).
	sender, err := core.NewManager(kafkatest.Config(t, "sender"), core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close(context.Background())
	if err := sender.Produce(ctx, billing.Location, ev); err != nil {
		t.Fatal(err)
	}
	kafkatest.ReadTopic(t, billing.Location+".dlq", 1, 30*time.Second)
	fixed.Store(true)

	dlq := billing.Location + ".dlq"
	redriver := securetest.RedriverACLs(ordersUser, dlq, billing.Location)
	b.Grant(t, redriver)
	cfg := kafkatest.Config(t, "unused")
	cfg.Location = billing.Location
	cfg.Kafka = b.Props(t, ordersUser)
	d, err := core.OpenDeadLetters(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := d.Redrive(ctx, core.RedriveOptions{})
	if err != nil {
		t.Fatalf("Redrive as a principal with the README's redrive ACLs: %v", err)
	}
	if res.Redriven != 1 || res.Failed != 0 || res.Refused != 0 {
		t.Fatalf("redriven %d, failed %d, refused %d (%v); want 1, 0, 0", res.Redriven, res.Failed, res.Refused, res.Refusals)
	}
	select {
	case id := <-handled:
		if id != ev.CorrelationID {
			t.Fatalf("handled %s, want %s", id, ev.CorrelationID)
		}
	case <-ctx.Done():
		t.Fatal("the redriven event never reached its handler")
	}
	// Again from the start: the ledger (read with the same ACLs) refuses it.
	again, err := d.Redrive(ctx, core.RedriveOptions{Restart: true})
	if err != nil {
		t.Fatalf("second Redrive: %v", err)
	}
	if again.Redriven != 0 || again.Refusals[core.RefusedAlreadyRedriven] != 1 {
		t.Fatalf("second redrive: redriven %d, refusals %v; want 0 and one %s", again.Redriven, again.Refusals, core.RefusedAlreadyRedriven)
	}

	// Without READ on the ledger a redrive cannot know what was redriven:
	// it fails at once, naming the ACL, rather than redrive again or hang.
	ledger := dlq + ".redrive"
	b.Grant(t, securetest.Without(securetest.RedriverACLs(badUser, dlq, billing.Location), kafka.ResourceTopic, ledger, kafka.ACLOperationRead))
	cfg.Kafka = b.Props(t, badUser)
	bad, err := core.OpenDeadLetters(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	t0 := time.Now()
	_, err = bad.Redrive(ctx, core.RedriveOptions{Restart: true})
	if want := "needs READ on topic " + ledger; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Redrive without READ on the ledger = %v; want an error saying %q", err, want)
	}
	if took := time.Since(t0); took > startTimeLimit {
		t.Fatalf("Redrive without READ on the ledger failed after %v; want within %v", took, startTimeLimit)
	}
	t.Logf("without READ on the ledger: %v", err)
}

// TestTailWithoutRead: `kafka-broker tail` as a principal that may see a
// topic but not read it exits at once naming the ACL, instead of waiting
// silently for records it will never get.
func TestTailWithoutRead(t *testing.T) {
	b := securetest.FromEnv(t)
	topic := kafkatest.Name(t, "events")
	createTopic(t, b, topic)
	b.Grant(t, kafka.ACLBindings{{
		Type: kafka.ResourceTopic, Name: topic, ResourcePatternType: kafka.ResourcePatternTypeLiteral,
		Principal: securetest.Principal(badUser), Host: "*", Operation: kafka.ACLOperationDescribe,
		PermissionType: kafka.ACLPermissionTypeAllow,
	}})
	args := []string{"tail", "--from-beginning", "--bootstrap-servers", kafkatest.Bootstrap(t)}
	for k, v := range b.Props(t, badUser) {
		args = append(args, "-X", fmt.Sprintf("%s=%v", k, v))
	}
	args = append(args, topic)
	var stdout, stderr strings.Builder
	ctx := kafkatest.Context(t, 60*time.Second)
	t0 := time.Now()
	code := cli.Run(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}, args)
	took := time.Since(t0)
	if want := "needs READ on each topic it tails"; code == 0 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("tail exited %d after %v, stderr %q; want a failure saying %q", code, took, stderr.String(), want)
	}
	if took > startTimeLimit {
		t.Fatalf("tail failed after %v; want within %v", took, startTimeLimit)
	}
	t.Logf("exit %d after %v: %s", code, took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
}
