package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// InitConsumer creates the Location, reply and dead-letter topics when they
// are missing, positions the reply consumer at the end of the reply topic,
// subscribes to Location with GroupID, and returns once partitions are
// assigned. Consuming goes on in the background until Close. ctx bounds the
// start only; a broker that cannot be reached makes it return ctx's error
// naming the brokers.
func (m *Manager) InitConsumer(ctx context.Context) error {
	m.initMu.Lock()
	defer m.initMu.Unlock()
	switch m.state.Load() {
	case stateRunning:
		return nil
	case stateClosing, stateClosed:
		return ErrClosed
	}
	m.state.Store(stateStarting)
	err := m.startConsumers(ctx)
	if err != nil {
		// A record may have reached a handler just before the start gave up.
		drain, cancel := context.WithTimeout(context.Background(), m.cfg.DrainTimeout)
		m.stopConsumers(drain)
		cancel()
		m.lifeMu.Lock()
		m.group, m.replies = nil, nil
		m.lifeMu.Unlock()
		m.state.CompareAndSwap(stateStarting, stateNew)
		return err
	}
	if !m.state.CompareAndSwap(stateStarting, stateRunning) {
		return ErrClosed
	}
	m.log.Info("kafka-broker: consumer ready", "location", m.cfg.Location, "group", m.cfg.GroupID,
		"reply_topic", m.cfg.ReplyTopic, "brokers", m.cfg.BootstrapServers)
	return nil
}

func (m *Manager) startConsumers(ctx context.Context) error {
	topics := append([]string{m.cfg.Location}, m.replyTopics()...)
	if !m.cfg.DisableDeadLetter {
		topics = append(topics, m.cfg.DeadLetterTopic)
	}
	if err := m.ensureTopics(ctx, topics...); err != nil {
		return err
	}
	rc, err := m.newReplyConsumer()
	if err != nil {
		return err
	}
	m.replies = rc
	if err := rc.position(ctx); err != nil {
		return err
	}
	gc, err := m.newGroupConsumer()
	if err != nil {
		return err
	}
	m.lifeMu.Lock()
	m.group = gc
	m.lifeMu.Unlock()
	if err := gc.start(); err != nil {
		return err
	}
	for {
		select {
		case <-gc.assigned:
			return nil
		case <-m.closing:
			return ErrClosed
		case <-m.startFail.noted: // not authorized, wrong credentials (startfail.go)
			if err := m.takeStartError(); err != nil {
				return err
			}
		case <-ctx.Done():
			select {
			case <-gc.assigned: // both were ready: the start succeeded
				return nil
			default:
			}
			return m.ctxError(fmt.Sprintf("join group %s on %s", m.cfg.GroupID, m.cfg.Location), ctx.Err())
		}
	}
}

// Ready reports whether InitConsumer has completed and Close has not begun.
func (m *Manager) Ready() bool { return m.state.Load() == stateRunning }

// Close stops fetching, fails pending requests with ErrClosed, lets handlers
// in flight finish (bounded by ctx; records not yet started stay uncommitted,
// for the next owner), commits what was handled, flushes the producer and
// releases the clients. Later calls return ErrClosed; a second Close returns
// the first one's result.
func (m *Manager) Close(ctx context.Context) error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.state.Load() == stateClosed {
		return m.closeErr
	}
	m.state.Store(stateClosing)
	close(m.closing)
	if m.tel.reg != nil {
		_ = m.tel.reg.Unregister()
	}
	m.pending.closeAll()
	m.storage.close()

	var errs []error
	m.initMu.Lock() // waits for a running InitConsumer to give up
	if err := m.stopConsumers(ctx); err != nil {
		errs = append(errs, err)
	}
	m.initMu.Unlock()

	// Handlers are done (or abandoned): nothing more to produce.
	m.cancelHandler()
	if err := m.closeProducer(ctx); err != nil {
		errs = append(errs, err)
	}
	m.state.Store(stateClosed)
	m.closeErr = errors.Join(errs...)
	return m.closeErr
}

// stopConsumers stops fetching, waits for in-flight handlers until ctx ends,
// commits, and closes both consumers.
func (m *Manager) stopConsumers(ctx context.Context) error {
	var errs []error
	if g := m.group; g != nil {
		// A rebalance the poll loop is draining gives up when ctx ends.
		stopDrain := context.AfterFunc(ctx, g.cancelDrain)
		defer stopDrain()
		close(g.stop)
		if g.started {
			<-g.done
		}
		err := g.stopWorkers(ctx, nil)
		if err == nil {
			err = g.waitAbandoned(ctx)
		}
		if err != nil {
			// Close cancels the abandoned handlers' ctx next; a failed start
			// leaves them be, as the Manager may start again.
			errs = append(errs, fmt.Errorf("kafka-broker: close: handlers still running: %w", err))
		}
		g.commit()
		g.closing = true
		// No StoreOffsets from here on: a handler still running must not
		// reach the consumer while it is destroyed.
		g.storeMu.Lock()
		g.closed = true
		g.storeMu.Unlock()
		m.lifeMu.Lock()
		if err := g.c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("kafka-broker: close consumer: %w", err))
		}
		m.lifeMu.Unlock()
	}
	if m.replies != nil {
		m.replies.close()
	}
	return errors.Join(errs...)
}

func (m *Manager) closeProducer(ctx context.Context) error {
	var err error
	for m.producer.Len() > 0 {
		if ctx.Err() != nil {
			err = fmt.Errorf("kafka-broker: close: %d records not flushed: %w", m.producer.Len(), ctx.Err())
			m.producer.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
			break
		}
		m.producer.Flush(100)
	}
	m.prodMu.Lock()
	close(m.prodClosed)
	m.prodMu.Unlock()
	m.admin.Close()
	m.producer.Close()
	<-m.prodDone
	m.stopLogs()
	return err
}
