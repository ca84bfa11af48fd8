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
	_, err := t.run(ctx, stepInit, resumable(t.p.InitTransactions))
	if errors.Is(err, errStepRunning) {
		return errorf("kafka-broker: start transactions again (transactional.id %s, brokers %s): %w", t.id, t.brokers, err)
	}
	return t.inited(err)
}

// inited ends the init step of a renewed producer: a transaction begins.
func (t *transactor) inited(err error) error {
	if err != nil {
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
// the producer. A transactional call librdkafka is still in when ctx ends
// (a commit in doubt, an abort, SendOffsetsToTransaction) goes on in the
// background: the producer is released once it returned, and the brokers
// abort what it left open after TransactionTimeout.
func (t *transactor) close(ctx context.Context) {
	s := t.sender()
	if t.step != nil {
		st, err := t.await(ctx)
		if errors.Is(err, errStepRunning) {
			t.releaseAfter(st, s)
			return
		}
		switch {
		case st.kind == stepCommit && err == nil:
			t.committing, t.open = false, false
		case st.kind == stepAbort && err == nil:
			t.open, t.aborting = false, false
		}
	}
	switch {
	case t.committing: // its outcome is the brokers' now: it commits, or times out and is aborted
		t.log.Warn("kafka-broker: closing with a commit in doubt", "transactional_id", t.id)
	case (t.open || t.aborting) && !t.renew && !t.initing && t.fatal.Load() == nil:
		if st, err := t.run(ctx, stepAbort, resumable(t.p.AbortTransaction)); errors.Is(err, errStepRunning) {
			t.releaseAfter(st, s)
			return
		} else if err != nil {
			t.log.Debug("kafka-broker: abort transaction at close", "transactional_id", t.id, "error", err)
		}
	}
	_ = s.close(ctx)
	s.destroy()
	close(t.released)
}

// releaseAfter releases the producer once librdkafka returned from st: not
// under it.
func (t *transactor) releaseAfter(st *txnStep, s *sender) {
	t.log.Warn("kafka-broker: closing while librdkafka is still in a transactional call; the producer is released when it returns",
		"transactional_id", t.id, "call", st.kind.String())
	_ = s.close(canceledCtx)
	go func() { // owned by the librdkafka call; the Manager's release waits for it (Released)
		defer close(t.released)
		<-st.done
		s.destroy()
	}()
}
