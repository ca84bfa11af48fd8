// Package securetest gives the secured real-Kafka tier (make
// test-kafka-secure) its principals and ACLs: the SASL_SSL broker that
// scripts/kafka runs with KAFKA_SECURITY=sasl_ssl, the client properties of
// each SCRAM user it created, and the ACLs a service needs (Service.ACLs, the
// table in the README's "Running against a secured cluster").
//
// The tests skip unless the environment describes such a broker:
// KAFKA_PROP_SECURITY_PROTOCOL=SASL_SSL (the superuser's settings, as
// `scripts/kafka env` prints them) and KAFKA_SCRIPT naming scripts/kafka,
// which prints the other users' settings.
package securetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
	"github.com/kafka-broker/kafka-broker-go/internal/realkafka"
)

// Broker is the secured broker of the tier.
type Broker struct {
	script *realkafka.Broker
	mu     sync.Mutex
	props  map[string]map[string]any // by user
}

var (
	brokerMu sync.Mutex
	broker   *Broker
)

// FromEnv returns the secured broker, or skips the test when there is none.
func FromEnv(tb testing.TB) *Broker {
	tb.Helper()
	if !strings.EqualFold(os.Getenv("KAFKA_PROP_SECURITY_PROTOCOL"), "SASL_SSL") || !kafkatest.External() {
		tb.Skip("needs the SASL_SSL broker of make test-kafka-secure (KAFKA_PROP_SECURITY_PROTOCOL=SASL_SSL)")
	}
	script, ok := realkafka.FromEnv()
	if !ok {
		tb.Skip("needs scripts/kafka in KAFKA_SCRIPT for the users' credentials")
	}
	brokerMu.Lock()
	defer brokerMu.Unlock()
	if broker == nil {
		broker = &Broker{script: script, props: map[string]map[string]any{}}
	}
	return broker
}

// Principal is the ACL principal of a SCRAM user.
func Principal(user string) string { return "User:" + user }

// Props returns the librdkafka properties (security.protocol, sasl.*,
// ssl.ca.location) of user, as `KAFKA_USER=<user> scripts/kafka env` prints
// them. A fresh copy each time: callers may change it.
func (b *Broker) Props(tb testing.TB, user string) map[string]any {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.props[user]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		env, err := b.script.Env(ctx, user)
		if err != nil {
			tb.Fatalf("credentials of %s: %v", user, err)
		}
		p = map[string]any{}
		for k, v := range env {
			if name, ok := strings.CutPrefix(k, "KAFKA_PROP_"); ok {
				p[strings.ToLower(strings.ReplaceAll(name, "_", "."))] = v
			}
		}
		if p["sasl.username"] != user {
			tb.Fatalf("scripts/kafka env for %s printed sasl.username %v", user, p["sasl.username"])
		}
		b.props[user] = p
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// Admin returns an AdminClient of the superuser, closed when the test ends.
func (b *Broker) Admin(tb testing.TB) *kafka.AdminClient {
	tb.Helper()
	a, err := kafka.NewAdminClient(kafkatest.ClientConfig(tb, kafka.ConfigMap{"log_level": 3}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Close)
	return a
}

// Grant creates bindings as the superuser, waits until the broker applies
// them, and deletes them when the test ends.
func (b *Broker) Grant(tb testing.TB, bindings kafka.ACLBindings) {
	tb.Helper()
	if len(bindings) == 0 {
		return
	}
	a := b.Admin(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.CreateACLs(ctx, bindings)
	if err != nil {
		tb.Fatalf("CreateACLs: %v", err)
	}
	for i, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			tb.Fatalf("CreateACLs %v: %v", bindings[i], r.Error)
		}
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		filters := make(kafka.ACLBindingFilters, len(bindings))
		copy(filters, bindings)
		if _, err := a.DeleteACLs(ctx, filters); err != nil {
			tb.Errorf("DeleteACLs: %v", err)
		}
	})
	// The controller committed them; the broker authorizes with what its
	// metadata has applied, which DescribeACLs reports.
	for _, want := range bindings {
		for {
			got, err := a.DescribeACLs(ctx, want)
			if err == nil && len(got.ACLBindings) > 0 {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("ACL %v not applied by the broker: %v", want, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Service is what a service does, for the ACLs it needs.
type Service struct {
	User     string   // its SCRAM user: the principal User:<User>
	Location string   // the topic it consumes
	GroupID  string   // default Location
	Calls    []string // topics it sends events and requests to
	Answers  []string // Locations of the services whose requests it answers
	// TransactionalID, when set: the service runs with Config.Transactional
	// and this Config.TransactionalID.
	TransactionalID string
}

// ResourceTransactionalID is the ACL resource type of a transactional ID:
// librdkafka's RD_KAFKA_RESOURCE_TRANSACTIONAL_ID (5), which
// confluent-kafka-go v2.11.1 does not name.
const ResourceTransactionalID kafka.ResourceType = 5

// ACLs returns the ACLs a service needs, and nothing more: the README's
// table. All literal names, allowed from any host.
//
//	topic Location           READ, CREATE   consume; create it at the first start
//	topic Location.replies   READ, WRITE, CREATE
//	                                        read replies; forward replies that reached
//	                                        another instance; create it
//	topic Location.dlq       WRITE, CREATE  dead letters; create it
//	group GroupID            READ           join the group, commit offsets
//	topic each of Calls      WRITE          Produce and Request
//	topic <A>.replies for each A of Answers
//	                         WRITE          Reply
//	transactional-id TransactionalID (when set)
//	                         WRITE
//	                                        exactly-once mode: transactions, with the
//	                                        input offsets (group READ covers those)
//
// READ and WRITE imply DESCRIBE. The reply consumer needs no group ACL (it
// never joins its group), and the idempotent producer no IDEMPOTENT_WRITE on
// the cluster: WRITE on any topic allows it (Kafka 2.8 and later, KIP-679).
func (s Service) ACLs() kafka.ACLBindings {
	group := s.GroupID
	if group == "" {
		group = s.Location
	}
	var out kafka.ACLBindings
	add := func(t kafka.ResourceType, name string, ops ...kafka.ACLOperation) {
		for _, op := range ops {
			out = append(out, kafka.ACLBinding{
				Type: t, Name: name, ResourcePatternType: kafka.ResourcePatternTypeLiteral,
				Principal: Principal(s.User), Host: "*", Operation: op, PermissionType: kafka.ACLPermissionTypeAllow,
			})
		}
	}
	add(kafka.ResourceTopic, s.Location, kafka.ACLOperationRead, kafka.ACLOperationCreate)
	add(kafka.ResourceTopic, s.Location+".replies", kafka.ACLOperationRead, kafka.ACLOperationWrite, kafka.ACLOperationCreate)
	add(kafka.ResourceTopic, s.Location+".dlq", kafka.ACLOperationWrite, kafka.ACLOperationCreate)
	add(kafka.ResourceGroup, group, kafka.ACLOperationRead)
	for _, t := range s.Calls {
		add(kafka.ResourceTopic, t, kafka.ACLOperationWrite)
	}
	for _, a := range s.Answers {
		add(kafka.ResourceTopic, a+".replies", kafka.ACLOperationWrite)
	}
	if s.TransactionalID != "" {
		add(ResourceTransactionalID, s.TransactionalID, kafka.ACLOperationWrite)
	}
	return out
}

// RedriverACLs returns the ACLs of user to redrive the dead-letter topic
// dlq to targets (the README's list for `dlq redrive`): WRITE and DESCRIBE
// on the transactional ID kafka-broker-redrive.<dlq>, READ on dlq and on the
// groups kafka-broker-redrive.<dlq>.* (prefixed), WRITE on the targets, READ,
// WRITE and CREATE on the ledger <dlq>.redrive.
func RedriverACLs(user, dlq string, targets ...string) kafka.ACLBindings {
	var out kafka.ACLBindings
	add := func(t kafka.ResourceType, pattern kafka.ResourcePatternType, name string, ops ...kafka.ACLOperation) {
		for _, op := range ops {
			out = append(out, kafka.ACLBinding{
				Type: t, Name: name, ResourcePatternType: pattern,
				Principal: Principal(user), Host: "*", Operation: op, PermissionType: kafka.ACLPermissionTypeAllow,
			})
		}
	}
	lit := kafka.ResourcePatternTypeLiteral
	add(ResourceTransactionalID, lit, "kafka-broker-redrive."+dlq, kafka.ACLOperationWrite, kafka.ACLOperationDescribe)
	add(kafka.ResourceTopic, lit, dlq, kafka.ACLOperationRead)
	add(kafka.ResourceGroup, kafka.ResourcePatternTypePrefixed, "kafka-broker-redrive."+dlq+".", kafka.ACLOperationRead)
	for _, t := range targets {
		add(kafka.ResourceTopic, lit, t, kafka.ACLOperationWrite)
	}
	add(kafka.ResourceTopic, lit, dlq+".redrive", kafka.ACLOperationRead, kafka.ACLOperationWrite, kafka.ACLOperationCreate)
	return out
}

// Without returns bindings but the one allowing op on the resource of type
// typ named name; it panics when there is no such binding.
func Without(bindings kafka.ACLBindings, typ kafka.ResourceType, name string, op kafka.ACLOperation) kafka.ACLBindings {
	out := slices.DeleteFunc(slices.Clone(bindings), func(b kafka.ACLBinding) bool {
		return b.Type == typ && b.Name == name && b.Operation == op
	})
	if len(out) != len(bindings)-1 {
		panic(fmt.Sprintf("securetest.Without: no single binding %s on %s %s", op, typ, name))
	}
	return out
}
