package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
)

// Exactly-once (Config.Transactional): the transactor owns a transactional
// producer. The handlers' Reply and Produce calls (through their send
// scopes) and the dead letters go through it, into the open transaction;
// the fetcher, at each checkpoint (core/internal/fetch/checkpoint.go), hands
// it the offsets of the records handled since the last one, and it commits
// them with SendOffsetsToTransaction in that transaction (KIP-447: the group
// metadata fences a member that lost its partitions). Requests, Produce
// outside handlers, ProduceAsync and forwarded replies use the plain
// producer: a handler's Request must reach its responder before the handler
// returns, long before the commit.

// blamedMax bounds the records remembered as the cause of an abort.
const blamedMax = 1024

// transactor is the fetcher's Committer in exactly-once mode.
type transactor struct {
	// p is the transactional producer (the checkpoints' alone); cur sends
	// through it, for the handlers' scopes and the dead letters. Both are
	// replaced when the brokers fenced p for a transaction's age
	// (txnproducer.go).
	p           *kafka.Producer
	cur         atomic.Pointer[sender]
	newProducer func() (*kafka.Producer, *sender, error)
	limits      *sizeLimits
	id          string
	brokers     string
	timeout     time.Duration // transaction.timeout.ms
	log         *slog.Logger
	// metadata is the group consumer's, set before the fetcher starts.
	metadata func() (*kafka.ConsumerGroupMetadata, error)

	// Only the fetcher's checkpoints (one at a time) touch open and
	// aborting; doomed is read by the handlers.
	open     bool // a transaction is begun
	aborting bool // an abort did not finish: it is called again
	// used: when the open transaction first reached the brokers (its first
	// record handed to the producer, or its offsets), in Unix nanoseconds;
	// 0 while it has not (the brokers' timeout clock starts there, not at
	// BeginTransaction, which is local). Handlers' sends set it.
	used atomic.Int64
	// renew: the brokers aborted the open transaction for its age and
	// fenced p: the next Abort replaces p; initing: a new p's
	// InitTransactions did not finish: it is called again.
	renew, initing bool
	// committing: a commit did not finish in time; it goes on in the
	// background and only resuming it (librdkafka allows no other
	// transactional call meanwhile) tells whether it committed.
	committing bool
	// step: the transactional call of librdkafka's running on a goroutine
	// of its own, or done but not awaited yet (txnstep.go); no other is
	// made until it was awaited.
	step *txnStep
	// released is closed once close released the producer.
	released chan struct{}
	// doomed: a send failed in the open transaction, or none is open: the
	// next checkpoint aborts, and handlers fail fast meanwhile.
	doomed atomic.Bool
	fatal  atomic.Pointer[error] // the producer can do no more (fenced)

	mu     sync.Mutex
	blamed map[string]blame // by record: "partition/offset"
	// strikes counts, by record, the aborts since the last commit in which
	// a send of its was refused with its batch (batchsize.go).
	strikes map[string]int
}

// blame is why a record's handling was aborted: it is dead-lettered, not
// handled, when it comes again.
type blame struct {
	err   error
	kind  string
	cut   bool // its dead letter was refused for its size: cut it
	taken bool // dead-lettered in the open transaction; forgotten when it commits
}

var _ fetch.Committer = (*transactor)(nil)

func (c *Config) setTransactionDefaults() {
	if c.TransactionInterval == 0 {
		c.TransactionInterval = DefaultTransactionInterval
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.TransactionalID == "" {
		inst := c.InstanceID
		if inst == "" {
			inst, _ = os.Hostname()
		}
		c.TransactionalID = c.GroupID + "." + inst
	}
}

func (c Config) validateTransactional() error {
	if !c.Transactional {
		return nil
	}
	if c.RequestOnly {
		return &ConfigError{"Transactional", "needs a consumer: not with RequestOnly"}
	}
	for k, bad := range map[string]string{
		"isolation.level":    "read_uncommitted",
		"enable.auto.commit": "true",
	} {
		if v, ok := c.Kafka[k]; ok && strings.EqualFold(fmt.Sprint(v), bad) {
			return &ConfigError{"Kafka", fmt.Sprintf("%s=%s cannot go with Transactional", k, bad)}
		}
	}
	if _, ok := c.Kafka["transactional.id"]; ok {
		return &ConfigError{"Kafka", "transactional.id: set Config.TransactionalID instead"}
	}
	return nil
}

func (t *transactor) begin() error {
	if err := t.p.BeginTransaction(); err != nil {
		t.doomed.Store(true)
		return t.classify(err)
	}
	t.open = true
	t.used.Store(0)
	t.doomed.Store(false)
	return nil
}

// Commit commits the open transaction with the offsets. When the brokers
// do not confirm the commit within ctx, it goes on in the background: Commit
// returns fetch.ErrInDoubt, and the next call (with the same offsets)
// awaits or resumes it. Aborting instead would be refused by librdkafka, and
// the records handled again could follow a commit that went through.
func (t *transactor) Commit(ctx context.Context, offsets []kafka.TopicPartition) error {
	t.sender().barrier() // an abandoned handler's last send is in this transaction or refused
	if !t.open {
		return errorf("kafka-broker: no transaction open (transactional.id %s)", t.id)
	}
	if s := t.step; s != nil && s.kind != stepOffsets && s.kind != stepCommit {
		return errorf("kafka-broker: %s still running (transactional.id %s): abort first", s.kind, t.id)
	}
	if t.step == nil && !t.committing {
		if t.doomed.Load() {
			return errorf("kafka-broker: a send failed in the transaction (transactional.id %s)", t.id)
		}
		if err := txnTimeLeft(ctx); err != nil { // nothing started: the next call starts it
			return errorf("kafka-broker: commit not started (transactional.id %s): %w: %w", t.id, fetch.ErrInDoubt, err)
		}
		if len(offsets) > 0 {
			md, err := t.metadata()
			if err != nil {
				return errorf("kafka-broker: consumer group metadata: %w", err)
			}
			t.touch()
			p := t.p
			t.runStep(ctx, stepOffsets, func(ctx context.Context) error { return p.SendOffsetsToTransaction(ctx, offsets, md) })
		}
	}
	if !t.committing {
		if _, err := t.await(ctx); err != nil { // the offsets' step
			if errors.Is(err, errStepRunning) {
				return errorf("kafka-broker: offsets not registered with the transaction in time (transactional.id %s, brokers %s): %w: %w",
					t.id, t.brokers, fetch.ErrInDoubt, err)
			}
			return t.classify(err) // once per commit: the transaction is aborted
		}
		t.committing = true
	}
	if t.step == nil {
		t.runStep(ctx, stepCommit, resumable(t.p.CommitTransaction))
	}
	if s, err := t.await(ctx); err != nil {
		if inDoubt(s, err) {
			return errorf("kafka-broker: commit not confirmed in time (transactional.id %s, brokers %s): %w: %w",
				t.id, t.brokers, fetch.ErrInDoubt, err)
		}
		t.committing = false
		return t.classify(err)
	}
	t.committing = false
	t.open = false
	t.forgetTaken()
	if err := t.begin(); err != nil {
		// Committed all the same; the next checkpoint aborts (begins again).
		t.log.Warn("kafka-broker: begin transaction", "transactional_id", t.id, "error", err)
	}
	return nil
}

// Abort aborts the open transaction and begins the next one. What is still
// queued is delivered or failed first: a purge of records in flight could
// leave the next transaction with a gap in its sequence numbers. A step
// still running (an abort or init that outlived the last call's ctx) is
// awaited first: its outcome is this call's.
func (t *transactor) Abort(ctx context.Context) error {
	t.sender().barrier() // an abandoned handler's last send is in this transaction or refused
	if t.committing {
		return errorf("kafka-broker: a commit is in doubt (transactional.id %s): it must be resumed, not aborted", t.id)
	}
	if t.step != nil {
		s, err := t.await(ctx)
		if errors.Is(err, errStepRunning) {
			return errorf("kafka-broker: abort waits (transactional.id %s): %w", t.id, err)
		}
		switch s.kind {
		case stepAbort:
			return t.aborted(err)
		case stepInit:
			return t.inited(err)
		} // the offsets' step: its outcome no longer matters, the transaction is aborted
	}
	if t.renew || t.initing {
		return t.renewProducer(ctx)
	}
	if t.open || t.aborting {
		for t.p.Len() > 0 && ctx.Err() == nil {
			t.p.Flush(100)
		}
		t.aborting = true
		_, err := t.run(ctx, stepAbort, resumable(t.p.AbortTransaction))
		if errors.Is(err, errStepRunning) {
			return errorf("kafka-broker: abort not confirmed in time (transactional.id %s, brokers %s): %w", t.id, t.brokers, err)
		}
		return t.aborted(err)
	}
	return t.begin()
}

// aborted ends an abort step: the next transaction begins.
func (t *transactor) aborted(err error) error {
	if err != nil {
		return t.classify(err)
	}
	t.open, t.aborting = false, false
	return t.begin()
}

// touch notes that the open transaction reached the brokers, the first
// time only.
func (t *transactor) touch() { t.used.CompareAndSwap(0, time.Now().UnixNano()) }

// age is how long the open transaction has been known to the brokers; 0
// when it has not reached them.
func (t *transactor) age() time.Duration {
	if u := t.used.Load(); u != 0 {
		return time.Since(time.Unix(0, u))
	}
	return 0
}

// classify wraps a fatal error (the producer was fenced: another instance
// uses the transactional ID) with fetch.ErrFatal. But when the open
// transaction has been known to the brokers for longer than the
// transaction timeout, they aborted it themselves (the broker, or the way
// to it, stalled that long) and fenced the producer: that is no other
// instance's doing, and the next Abort replaces the producer. (librdkafka
// reports both fences alike; an instance fenced by another while its own
// transaction had expired anyway takes its ID back, and the other one then
// stops.)
func (t *transactor) classify(err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) && ke.IsFatal() && t.open && t.age() >= t.timeout {
		t.renew = true
		return errorf("kafka-broker: transaction of transactional.id %s open for %s on the brokers, longer than its timeout (%s): they aborted it and fenced its producer; a new producer takes over: %w",
			t.id, t.age().Round(time.Millisecond), t.timeout, err)
	}
	if errors.As(err, &ke) && ke.IsFatal() {
		err = errorf("kafka-broker: transactional.id %s can commit no more (another instance with the same ID fenced this one?): %w: %w",
			t.id, fetch.ErrFatal, err)
		t.fatal.CompareAndSwap(nil, &err)
		return err
	}
	return err
}

// failed reports the error that ended the transactions for good, if any.
func (t *transactor) failed() error {
	if p := t.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// sendFailed is the send scope's failure handler: the transaction is
// doomed, and a record whose send the brokers refused for good is
// dead-lettered (send_failed) when it comes again, instead of handled. A
// send refused only with its batch (it fits its topic on its own) is not the
// record's fault: the record is handled again, and blamed only when that
// happened batchRetries times without a commit between.
func (t *transactor) sendFailed(via *sender, msg *kafka.Message, err error) error {
	if via != t.sender() {
		return err // a producer replaced since: its transaction was aborted already
	}
	t.doomed.Store(true)
	switch {
	case errors.Is(err, errRefusedWithBatch):
		if t.strike(msg) > batchRetries {
			t.blame(msg, blame{err: err, kind: DeadLetterSendFailed})
		}
	case permanentProduceError(err) && !purged(err):
		t.blame(msg, blame{err: err, kind: DeadLetterSendFailed})
	}
	return err
}

// strike counts an abort msg's send was refused in with its batch.
func (t *transactor) strike(msg *kafka.Message) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.strikes) >= blamedMax {
		clear(t.strikes)
	}
	k := recordKey(msg)
	t.strikes[k]++
	return t.strikes[k]
}

// deadLetterFailed notes a dead letter that failed in the transaction: the
// record is dead-lettered again when it comes again, cut when its size was
// refused.
func (t *transactor) deadLetterFailed(msg *kafka.Message, cause error, kind string, err error) {
	t.doomed.Store(true)
	if permanentProduceError(err) && !purged(err) {
		t.blame(msg, blame{err: cause, kind: kind, cut: sizeRefused(err)})
	}
}

func (t *transactor) blame(msg *kafka.Message, b blame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.blamed) >= blamedMax {
		for k := range t.blamed {
			delete(t.blamed, k)
			break
		}
	}
	t.blamed[recordKey(msg)] = b
}

// takeBlame returns why msg's last handling was aborted. It is forgotten
// once the transaction that dead-letters msg commits: if that one aborts
// too, msg is dead-lettered again when it comes again.
func (t *transactor) takeBlame(msg *kafka.Message) (blame, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := recordKey(msg)
	b, ok := t.blamed[k]
	if ok {
		b.taken = true
		t.blamed[k] = b
	}
	return b, ok
}

func (t *transactor) forgetTaken() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.strikes)
	for k, b := range t.blamed {
		if b.taken {
			delete(t.blamed, k)
		}
	}
}

func recordKey(msg *kafka.Message) string {
	return fmt.Sprintf("%d/%d", msg.TopicPartition.Partition, int64(msg.TopicPartition.Offset))
}

func purged(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && (ke.Code() == kafka.ErrPurgeQueue || ke.Code() == kafka.ErrPurgeInflight)
}
