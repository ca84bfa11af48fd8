package core

import (
	"context"
	"errors"

	"github.com/kafka-broker/kafka-broker-go/core/internal/fetch"
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

// replyTopics are the topics the reply consumer reads: the configured reply
// topic and, when that is an instance's own, the shared one too.
func (m *Manager) replyTopics() []string {
	if m.cfg.ReplyTopic == m.replies.shared {
		return []string{m.cfg.ReplyTopic}
	}
	return []string{m.cfg.ReplyTopic, m.replies.shared}
}

func (m *Manager) startConsumers(ctx context.Context) error {
	topics := append([]string{m.cfg.Location}, m.replyTopics()...)
	if !m.cfg.DisableDeadLetter {
		topics = append(topics, m.cfg.DeadLetterTopic)
	}
	if m.cfg.RequestOnly {
		topics = m.replyTopics() // no group consumer: no Location, no dead letters
	}
	if !m.cfg.DisableTopicCreation {
		spec := topicSpec{partitions: m.cfg.TopicPartitions, replicationFactor: m.cfg.ReplicationFactor}
		if err := m.admin.ensureTopics(ctx, spec, topics...); err != nil {
			return err
		}
	}
	rc, err := newReplyConsumer(m.clients, m.cfg.GroupID, m.replyTopics(), m.replies.fromReplyTopic, m.log, m.closing, m.guard, m.admin)
	if err != nil {
		return err
	}
	m.lifeMu.Lock()
	m.replyFetch = rc
	m.lifeMu.Unlock()
	if err := rc.position(ctx); err != nil {
		return err
	}
	if m.cfg.RequestOnly {
		return nil // the reply consumer is all a requester needs
	}
	gc, err := newGroupClient(m.clients, m.cfg.GroupID, m.cfg.InstanceID, m.txn != nil)
	if err != nil {
		return err
	}
	settings := fetch.Settings{
		Topic:          m.cfg.Location,
		Workers:        m.cfg.Workers,
		PartitionQueue: m.cfg.PartitionQueue,
		DrainTimeout:   m.cfg.DrainTimeout,
		Closing:        m.closing,
		OnError:        m.guard.noteJoin, // not authorized, wrong credentials: ends a start at once
		Log:            m.log,
	}
	if m.txn != nil {
		m.txn.metadata = gc.c.GetConsumerGroupMetadata
		if err := m.txn.start(ctx); err != nil {
			gc.c.Close()
			return err
		}
		settings.Committer = m.txn
		settings.CommitInterval, settings.CommitRecords = m.cfg.TransactionInterval, m.cfg.TransactionMaxRecords
	}
	f := fetch.New(gc, m.dispatch, settings)
	m.lifeMu.Lock()
	m.groups = append(m.groups, gc)
	m.fetcher = f
	m.lifeMu.Unlock()
	if err := f.Start(m.handlerCtx); err != nil {
		return errorf("kafka-broker: %w", err)
	}
	for {
		select {
		case <-f.Assigned():
			return nil
		case <-m.closing:
			return ErrClosed
		case <-m.guard.noted: // not authorized, wrong credentials (startfail.go)
			if err := m.guard.take(); err != nil {
				return err
			}
		case <-ctx.Done():
			select {
			case <-f.Assigned(): // both were ready: the start succeeded
				return nil
			default:
			}
			return errorf("kafka-broker: join group %s on %s (brokers %s): %w", m.cfg.GroupID, m.cfg.Location,
				m.cfg.BootstrapServers, ctx.Err())
		}
	}
}

// Ready reports whether InitConsumer has completed and Close has not begun.
func (m *Manager) Ready() bool { return m.state.Load() == stateRunning }

// Close stops fetching, fails pending requests with ErrClosed (those still
// waiting for their produce's ack too), lets handlers in flight finish and
// their sends be acknowledged (bounded by ctx; records not yet started stay
// uncommitted, for the next owner), commits what was handled, flushes the
// producer and releases the clients. Every wait on the brokers is bounded by
// ctx: with the brokers gone, Close returns when ctx ends and says what it
// could not do; the group consumer then finishes leaving in the background,
// within its session timeout. Later calls return ErrClosed; a second Close
// returns the first one's result.
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
	m.replies.pending.closeAll()
	m.storage.close()

	var errs []error
	m.initMu.Lock() // waits for a running InitConsumer to give up
	if err := m.stopConsumers(ctx); err != nil {
		errs = append(errs, err)
	}
	m.initMu.Unlock()
	if m.txn != nil { // the fetcher made the last commit
		m.txn.close(ctx)
	}

	// Handlers are done (or abandoned): nothing more to produce.
	m.cancelHandler()
	if err := m.send.close(ctx); err != nil {
		errs = append(errs, err)
	}
	m.admin.close()
	m.release()
	m.state.Store(stateClosed)
	m.closeErr = errors.Join(errs...)
	return m.closeErr
}

// stopConsumers stops fetching, waits for in-flight handlers and their acks
// until ctx ends, commits, and closes both consumers.
func (m *Manager) stopConsumers(ctx context.Context) error {
	m.lifeMu.RLock()
	f, rc := m.fetcher, m.replyFetch
	m.lifeMu.RUnlock()
	var errs []error
	if f != nil {
		if err := f.Stop(ctx); err != nil {
			errs = append(errs, errorf("kafka-broker: close: %w", err))
		}
	}
	if rc != nil {
		rc.close()
	}
	m.lifeMu.Lock()
	m.fetcher, m.replyFetch = nil, nil
	m.lifeMu.Unlock()
	return errors.Join(errs...)
}

// release destroys the producer and stops the log forwarding once every
// client is gone: at once, or, when the group consumer still leaves its
// group in the background (the brokers are down), when it is done.
func (m *Manager) release() {
	m.lifeMu.RLock()
	clients := make([]interface{ Released() <-chan struct{} }, 0, len(m.groups)+1)
	for _, g := range m.groups {
		clients = append(clients, g)
	}
	m.lifeMu.RUnlock()
	if m.txn != nil { // its producer may outlive Close (a SendOffsetsToTransaction librdkafka still waits in)
		clients = append(clients, m.txn)
	}
	done := func() {
		for _, g := range clients {
			<-g.Released()
		}
		m.send.destroy()
		m.logs.stop()
	}
	for _, g := range clients {
		select {
		case <-g.Released():
		default:
			go done() // owned by the clients' own close, bounded by their session or request timeouts
			return
		}
	}
	done()
}
