package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// This file is the hand-written confluent-kafka-go baseline: what a careful
// developer writes for the same job without the library, with the same
// librdkafka settings and the same guarantees: replies matched by correlation
// ID on a group-less reply consumer positioned at the end; at-least-once
// consumption (an offset is stored only after its event was handled, then
// auto-committed), order kept per partition; partitions handled concurrently
// where handlers block (the responder), in the poll loop where they do not.

// rawRequester produces requests and matches replies read from its reply
// topic by correlation ID.
type rawRequester struct {
	p          *kafka.Producer
	c          *kafka.Consumer
	location   string
	replyTopic string

	*pendingReplies

	stop    chan struct{}
	polled  chan struct{} // the poll loop ended
	drained chan struct{} // the producer's event drain ended
}

func newRawRequester(ctx context.Context, e *env, location, replyTopic string) (*rawRequester, error) {
	p, err := kafka.NewProducer(producerConfig(e.bootstrap, e.kafka))
	if err != nil {
		return nil, err
	}
	c, err := kafka.NewConsumer(replyConsumerConfig(e.bootstrap, location+".replies."+uuid.NewString(), e.kafka))
	if err != nil {
		p.Close()
		return nil, err
	}
	r := &rawRequester{p: p, c: c, location: location, replyTopic: replyTopic,
		pendingReplies: newPendingReplies(), stop: make(chan struct{}),
		polled: make(chan struct{}), drained: make(chan struct{})}
	if err := assignAtEnd(ctx, c, replyTopic); err != nil {
		c.Close()
		p.Close()
		return nil, err
	}
	go func() { defer close(r.drained); drainEvents(e, p) }()
	go func() { defer close(r.polled); r.poll() }()
	return r, nil
}

// assignAtEnd assigns every partition of topic at its high watermark.
func assignAtEnd(ctx context.Context, c *kafka.Consumer, topic string) error {
	for {
		md, err := c.GetMetadata(&topic, false, 5000)
		if err == nil {
			tm := md.Topics[topic]
			tps := make([]kafka.TopicPartition, 0, len(tm.Partitions))
			for _, p := range tm.Partitions {
				_, high, qerr := c.QueryWatermarkOffsets(topic, p.ID, 5000)
				if qerr != nil {
					err = qerr
					break
				}
				tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.Offset(high)})
			}
			if err == nil && len(tps) > 0 {
				return c.Assign(tps)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("assign %s: %w", topic, errors.Join(err, ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// drainEvents reads a producer's event channel, which gets only errors when
// every Produce names its own delivery channel.
func drainEvents(e *env, p *kafka.Producer) {
	for ev := range p.Events() {
		if err, ok := ev.(kafka.Error); ok && err.IsFatal() {
			e.log.Error("raw producer", "error", err)
		}
	}
}

func (r *rawRequester) poll() {
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		msg, ok := r.c.Poll(100).(*kafka.Message)
		if !ok || msg.TopicPartition.Error != nil {
			continue
		}
		r.deliver(msg.Value)
	}
}

// requestCounting produces an event and waits for its reply; it adds 1 to
// sent (when not nil) once the request is acked.
func (r *rawRequester) requestCounting(ctx context.Context, topic, event string, data json.RawMessage, sent *atomic.Int64) (*rawEvent, error) {
	id, value, err := encodeEvent(r.location, event, data)
	if err != nil {
		return nil, err
	}
	ch := r.expect(id)
	if err := produceSync(ctx, r.p, rawMessage(topic, id, value, r.replyTopic)); err != nil {
		r.forget(id)
		return nil, err
	}
	if sent != nil {
		sent.Add(1)
	}
	return r.await(ctx, id, ch)
}

// rawMessage is a record of the wire format with the correlation ID as key
// and header, and the reply topic header when replyTopic is set.
func rawMessage(topic, id string, value []byte, replyTopic string) *kafka.Message {
	headers := make([]kafka.Header, 1, 2)
	headers[0] = kafka.Header{Key: core.HeaderCorrelationID, Value: []byte(id)}
	if replyTopic != "" {
		headers = append(headers, kafka.Header{Key: core.HeaderReplyTopic, Value: []byte(replyTopic)})
	}
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key:            []byte(id),
		Value:          value,
		Headers:        headers,
	}
}

// produceSync produces msg and waits for its delivery report.
func produceSync(ctx context.Context, p *kafka.Producer, msg *kafka.Message) error {
	dr := make(chan kafka.Event, 1)
	if err := p.Produce(msg, dr); err != nil {
		return err
	}
	select {
	case e := <-dr:
		if m, ok := e.(*kafka.Message); ok && m.TopicPartition.Error != nil {
			return m.TopicPartition.Error
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *rawRequester) close() {
	close(r.stop)
	<-r.polled // no Poll may run on a closed consumer
	_ = r.c.Close()
	r.p.Flush(5000)
	r.p.Close()
	<-r.drained
}

// rawService consumes a topic in a group: one poll loop, a goroutine per
// assigned partition handling its records in order, offsets stored after
// each record is handled and auto-committed. handle routes by event name.
type rawService struct {
	*router
	p       *kafka.Producer // nil when the handlers do not produce
	c       *kafka.Consumer
	inline  bool // handle in the poll loop instead of per-partition goroutines
	started bool
	ctx     context.Context // handlers' ctx, cancelled by close
	cancel  context.CancelFunc

	workers map[int32]chan *kafka.Message // owned by poll
	stop    chan struct{}
	polled  chan struct{}

	workersWG sync.WaitGroup // partition goroutines
	wg        sync.WaitGroup // the producer's event drain
}

func newRawService(e *env, topic, group string, withProducer, inline bool) (*rawService, error) {
	s := &rawService{router: newRouter(e, "raw consumer", topic), inline: inline,
		workers: map[int32]chan *kafka.Message{}, stop: make(chan struct{}), polled: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if withProducer {
		p, err := kafka.NewProducer(producerConfig(e.bootstrap, e.kafka))
		if err != nil {
			return nil, err
		}
		s.p = p
		s.wg.Add(1)
		go func() { defer s.wg.Done(); drainEvents(e, p) }()
	}
	c, err := kafka.NewConsumer(groupConsumerConfig(e.bootstrap, group, e.kafka))
	if err != nil {
		s.closeProducer()
		return nil, err
	}
	s.c = c
	return s, nil
}

// start subscribes and polls; set the handlers before.
func (s *rawService) start() error {
	err := s.c.SubscribeTopics([]string{s.location}, func(_ *kafka.Consumer, ev kafka.Event) error {
		if _, ok := ev.(kafka.AssignedPartitions); ok {
			s.markAssigned()
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.started = true
	go s.poll()
	return nil
}

func (s *rawService) poll() {
	defer close(s.polled)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		switch ev := s.c.Poll(100).(type) {
		case *kafka.Message:
			if ev.TopicPartition.Error != nil {
				continue
			}
			if s.inline {
				s.handle(ev)
				continue
			}
			q, ok := s.workers[ev.TopicPartition.Partition]
			if !ok {
				q = make(chan *kafka.Message, 256)
				s.workers[ev.TopicPartition.Partition] = q
				s.workersWG.Add(1)
				go func() {
					defer s.workersWG.Done()
					for msg := range q {
						s.handle(msg)
					}
				}()
			}
			select {
			case q <- ev:
			case <-s.stop:
				return
			}
		case kafka.Error:
			if ev.IsFatal() {
				s.e.log.Error("raw consumer", "error", ev)
			}
		}
	}
}

func (s *rawService) handle(msg *kafka.Message) {
	s.route(msg.Value, header(msg, core.HeaderReplyTopic))
	tp := msg.TopicPartition
	tp.Offset++
	_, _ = s.c.StoreOffsets([]kafka.TopicPartition{tp})
}

// reply sends data back to the requester and waits for the ack.
func (s *rawService) reply(replyTo []byte, req *rawEvent, data json.RawMessage) error {
	value, err := encodeReply(s.location, req, data)
	if err != nil {
		return err
	}
	return produceSync(s.ctx, s.p, rawMessage(replyAddress(replyTo, req), req.CorrelationID, value, ""))
}

func (s *rawService) close() {
	close(s.stop)
	if s.started {
		<-s.polled
	}
	for p, q := range s.workers {
		close(q)
		delete(s.workers, p)
	}
	s.workersWG.Wait()
	s.cancel()
	if _, err := s.c.Commit(); err != nil {
		var kerr kafka.Error
		if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrNoOffset {
			s.e.log.Warn("raw consumer: commit", "error", err)
		}
	}
	_ = s.c.Close()
	s.closeProducer()
	s.wg.Wait()
}

func (s *rawService) closeProducer() {
	if s.p != nil {
		s.p.Flush(5000)
		s.p.Close()
	}
}
