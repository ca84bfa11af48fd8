package core

import (
	"context"
	"errors"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// add produces it's records in the transaction, starting one when none is open.
func (r *redriveRun) add(ctx context.Context, it *redriveItem) error {
	if !r.inTxn {
		if err := r.begin(); err != nil {
			return err
		}
	}
	r.batch = append(r.batch, it)
	r.produce(ctx, it)
	return nil
}

func (r *redriveRun) begin() error {
	if err := r.prod.BeginTransaction(); err != nil {
		return errorf("kafka-broker: redrive: begin transaction: %w", err)
	}
	r.inTxn = true
	r.dr = make(chan kafka.Event, 2*r.o.BatchSize+2)
	r.sent = 0
	return nil
}

// produce enqueues it's records; a record librdkafka refuses at once marks it failed.
func (r *redriveRun) produce(ctx context.Context, it *redriveItem) {
	for _, m := range it.msgs {
		cp := *m
		cp.Opaque = it
		for {
			err := r.prod.Produce(&cp, r.dr)
			var ke kafka.Error
			if errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond) // the queue drains as the brokers acknowledge
				continue
			}
			if err != nil {
				it.err = errorf("kafka-broker: redrive to %s: %w", *m.TopicPartition.Topic, err)
				return
			}
			r.sent++
			break
		}
	}
}

// commit ends the transaction in progress: the batch's records, their
// ledger entries and the position. Items whose records failed are taken
// out (counted as failed, their partition's position held before them) and
// the rest sent again in a new transaction.
func (r *redriveRun) commit(ctx context.Context) error {
	if r.o.DryRun || (!r.inTxn && !r.dirty) {
		return nil
	}
	for aborts := 0; ; {
		if !r.inTxn {
			if err := r.begin(); err != nil {
				return err
			}
			for _, it := range r.batch {
				r.produce(ctx, it)
			}
		}
		if err := r.awaitDeliveries(ctx); err != nil {
			return err
		}
		var ok []*redriveItem
		for _, it := range r.batch {
			if it.err == nil {
				ok = append(ok, it)
			}
		}
		if len(ok) < len(r.batch) {
			r.abort()
			for _, it := range r.batch {
				if it.err != nil {
					r.fail(it.dl, it.to, it.err)
				}
			}
			r.batch = ok
			continue
		}
		err := r.endTxn(context.WithoutCancel(ctx))
		if err == nil {
			break
		}
		var ke kafka.Error
		if errors.As(err, &ke) && ke.TxnRequiresAbort() && aborts < 3 && ctx.Err() == nil {
			aborts++
			r.d.log.Warn("kafka-broker: redrive transaction aborted; retrying it", "topic", r.d.topic, "error", err)
			r.abort()
			continue
		}
		r.abort()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, it := range r.batch {
			r.fail(it.dl, it.to, err)
		}
		r.batch = nil
		return errorf("kafka-broker: redrive: commit: %w", err)
	}
	for _, it := range r.batch {
		r.ledger[ledgerKey(it.dl.Partition, it.dl.Offset)] = it.rec
		it.dl.Redriven = it.rec
		r.res.count(it.dl.Kind, RedriveRedriven)
		r.record(it.dl.Kind, RedriveRedriven)
		r.d.log.Debug("kafka-broker: redriven", "topic", r.d.topic, "partition", it.dl.Partition, "offset", it.dl.Offset,
			"kind", it.dl.Kind, "event", it.dl.EventName(), "correlation_id", it.dl.CorrelationID, "to", it.to, "forced", it.forced)
		r.emit(RedriveOutcome{DeadLetter: it.dl, Status: RedriveRedriven, To: it.to, Forced: it.forced})
	}
	r.batch = nil
	return nil
}

// awaitDeliveries waits for the delivery report of every record produced in
// the transaction, and marks the items whose records failed.
func (r *redriveRun) awaitDeliveries(ctx context.Context) error {
	for ; r.sent > 0; r.sent-- {
		select {
		case e := <-r.dr:
			m, ok := e.(*kafka.Message)
			if !ok {
				continue
			}
			if it, ok := m.Opaque.(*redriveItem); ok && m.TopicPartition.Error != nil && it.err == nil {
				it.err = errorf("kafka-broker: redrive to %s: %w", *m.TopicPartition.Topic, deliveryError(m))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// endTxn saves the position in the transaction and commits it. Once begun,
// a commit is not interrupted: ctx carries no cancellation, only a bound.
func (r *redriveRun) endTxn(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redriveTxnTimeout)
	defer cancel()
	var offsets []kafka.TopicPartition
	for p, off := range r.next {
		if l, ok := r.limit[p]; ok && l < off {
			off = l
		}
		offsets = append(offsets, kafka.TopicPartition{Topic: &r.d.topic, Partition: p, Offset: kafka.Offset(off)})
	}
	md, err := r.cons.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	if err := r.prod.SendOffsetsToTransaction(ctx, offsets, md); err != nil {
		return err
	}
	if err := untilDecided(ctx, r.prod.CommitTransaction); err != nil {
		return err
	}
	r.inTxn, r.dirty = false, false
	return nil
}

// abort aborts the transaction in progress; its records stay invisible to
// read_committed consumers.
func (r *redriveRun) abort() {
	if !r.inTxn {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), redriveTxnTimeout)
	defer cancel()
	if err := untilDecided(ctx, r.prod.AbortTransaction); err != nil {
		r.d.log.Warn("kafka-broker: redrive: abort transaction", "topic", r.d.topic, "error", err)
	}
	r.inTxn = false
}
