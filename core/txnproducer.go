package core

import (
	"context"
	"errors"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The transactor's producer: created with the Manager, initialised at
// InitConsumer (start), replaced when the brokers fenced it for a
// transaction's age (renewProducer), closed by Close.

// newTransactor creates the transactional producer; start initialises it.
func newTransactor(m *Manager, maxMsg int) (*transactor, error) {
	cfg := m.cfg
	clients, stop, log, tel, stats := m.clients, m.closingCtx, m.log, &m.tel, &m.stats
	t := &transactor{id: cfg.TransactionalID, brokers: cfg.BootstrapServers, timeout: cfg.TransactionTimeout, log: log,
		blamed: map[string]blame{}, strikes: map[string]int{}, released: make(chan struct{})}
	t.newProducer = func() (*kafka.Producer, *sender, error) {
		p, err := kafka.NewProducer(clients.with(kafka.ConfigMap{
			"transactional.id":           cfg.TransactionalID,
			"transaction.timeout.ms":     int(cfg.TransactionTimeout / time.Millisecond),
			"message.max.bytes":          maxMsg,
			"enable.idempotence":         true,
			"acks":                       "all",
			"linger.ms":                  5, // replies wait for the commit anyway; batch them
			"go.delivery.report.fields":  "none",
			"go.events.channel.size":     10_000,
			"go.produce.channel.size":    0,
			"allow.auto.create.topics":   false,
			"queue.buffering.max.kbytes": 65536,
		}))
		if err != nil {
			return nil, nil, errorf("kafka-broker: create transactional producer: %w", err)
		}
		s := newSender(stop, p, cfg.BootstrapServers, log, tel, stats, nil)
		s.final = true // a failed send fails the transaction: no retry in it
		s.limits = t.limits
		s.queued = t.touch // the transaction reached the brokers
		return p, s, nil
	}
	p, s, err := t.newProducer()
	if err != nil {
		return nil, err
	}
	t.p = p
	t.cur.Store(s)
	return t, nil
}

// Released is closed once close released the producer (it may outlive
// close: see there); the Manager's log forwarding stops after it.
func (t *transactor) Released() <-chan struct{} { return t.released }

// sender sends through the current producer, into the open transaction.
func (t *transactor) sender() *sender { return t.cur.Load() }

// setLimits tells the senders a record refused with its batch from one
// refused for its own size (batchsize.go).
func (t *transactor) setLimits(l *sizeLimits) {
	t.limits = l
	t.sender().limits = l
}

// start fences earlier producers with the same transactional ID (aborting
// what a crashed predecessor left open) and begins the first transaction.
func (t *transactor) start(ctx context.Context) error {
	if err := untilDecided(ctx, t.p.InitTransactions); err != nil {
		var ke kafka.Error
		if errors.As(err, &ke) && ke.Code() == kafka.ErrTransactionalIDAuthorizationFailed {
			return errorf("kafka-broker: not authorized to use transactional ID %s (brokers %s): %w; the principal needs WRITE on transactional-id %s",
				t.id, t.brokers, err, t.id)
		}
		return errorf("kafka-broker: start transactions (transactional.id %s, brokers %s): %w", t.id, t.brokers, err)
	}
	if err := t.begin(); err != nil {
		return errorf("kafka-broker: begin transaction (transactional.id %s): %w", t.id, err)
	}
	return nil
}

// renewProducer replaces a producer the brokers fenced for a transaction's
// age with a new one under the same transactional ID, and begins a
// transaction. The checkpoints call it (through Abort) with the gate shut:
// no handler sends meanwhile, and an abandoned one still holding the old
// sender gets ErrClosed. An InitTransactions that does not finish is
// resumed by the next call.
func (t *transactor) renewProducer(ctx context.Context) error {
	if t.renew {
		p, s, err := t.newProducer() // first: a failure leaves the old one in place, to be replaced later
		if err != nil {
			return err
		}
		old := t.sender()
		t.p = p
		t.cur.Store(s)
		_ = old.close(canceledCtx) // fenced: what it still holds is purged
		old.destroy()
		t.renew, t.initing = false, true
		t.open, t.aborting, t.committing = false, false, false
		t.log.Warn("kafka-broker: transactional producer renewed after the brokers aborted an expired transaction",
			"transactional_id", t.id)
	}
	if err := untilDecided(ctx, t.p.InitTransactions); err != nil {
		return errorf("kafka-broker: start transactions again (transactional.id %s, brokers %s): %w", t.id, t.brokers, t.classify(err))
	}
	t.initing = false
	return t.begin()
}

// canceledCtx has ended: a close with it flushes nothing.
var canceledCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// close aborts a transaction left open (the fetcher committed or aborted
// the last one; only an abandoned handler may have sent since) and closes
// the producer.
func (t *transactor) close(ctx context.Context) {
	s := t.sender()
	if call := t.offsets; call != nil {
		select {
		case <-call.done:
			t.offsets = nil
		default:
			// librdkafka still waits in SendOffsetsToTransaction: the
			// producer is released once that call returns (the brokers
			// answer, or its own timeout), not under it; the brokers abort
			// the transaction after TransactionTimeout.
			t.log.Warn("kafka-broker: closing while offsets are being sent to the transaction; the producer is released when that call returns",
				"transactional_id", t.id)
			_ = s.close(canceledCtx)
			go func() {
				defer close(t.released)
				<-call.done
				s.destroy()
			}()
			return
		}
	}
	defer close(t.released)
	switch {
	case t.committing: // its outcome is the brokers' now: it commits, or times out and is aborted
		t.log.Warn("kafka-broker: closing with a commit in doubt", "transactional_id", t.id)
	case t.open && !t.renew && t.fatal.Load() == nil:
		if err := untilDecided(ctx, t.p.AbortTransaction); err != nil {
			t.log.Debug("kafka-broker: abort transaction at close", "transactional_id", t.id, "error", err)
		}
	}
	_ = s.close(ctx)
	s.destroy()
}
