package core

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Dead-letter headers, named like Spring Kafka's.
const (
	HeaderDLTError             = "kafka_dlt-exception-message"
	HeaderDLTErrorKind         = "kafka_dlt-exception-kind"
	HeaderDLTOriginalTopic     = "kafka_dlt-original-topic"
	HeaderDLTOriginalPartition = "kafka_dlt-original-partition"
	HeaderDLTOriginalOffset    = "kafka_dlt-original-offset"
	HeaderDLTAttempts          = "kafka_dlt-attempts"
	// HeaderDLTTruncated is set on a dead letter that had to be cut to fit
	// the dead-letter topic: a comma-separated list of what was cut, of
	// "key", "value", "headers" (original headers dropped, last first) and
	// "error" (the error text, cut at 4 KiB). Such a dead letter is a record
	// of what happened, not a copy to replay.
	HeaderDLTTruncated = "kafka_dlt-truncated"
	// HeaderDLTOriginalSize is the size in bytes of the original record's
	// key, value and headers, set together with HeaderDLTTruncated.
	HeaderDLTOriginalSize = "kafka_dlt-original-size"
	// HeaderDLTValueDropped is set, with the reason, on a dead letter written
	// without any of the original value (together with HeaderDLTTruncated).
	HeaderDLTValueDropped = "kafka_dlt-value-dropped"
)

// Kinds of dead letters besides the Malformed* ones (HeaderDLTErrorKind).
const (
	// DeadLetterHandler: the handler kept failing, or failed permanently.
	DeadLetterHandler = "handler"
	// DeadLetterNoRoute: no route matched the event.
	DeadLetterNoRoute = "no_route"
	// DeadLetterLoop: the event's audit log is longer than Config.MaxHops, or
	// its handler failed sending it on with ErrHopLimit.
	DeadLetterLoop = "loop"
	// DeadLetterReplyRefused: the handler failed because the request's reply
	// address was refused (ErrReplyTopicNotAllowed, ErrNoReplyAddress).
	DeadLetterReplyRefused = "reply_refused"
	// DeadLetterSendFailed: a reply or event the handler sent could not be
	// written (the brokers refused it for good) after the handler returned.
	DeadLetterSendFailed = "send_failed"
	// DeadLetterUnsolicitedReply: a reply (a status other than "pending" or
	// "ongoing") that nothing of this instance awaits reached a service with
	// a router; replies are never handed to handlers as new requests.
	DeadLetterUnsolicitedReply = "unsolicited_reply"
)

// Sizes a dead letter is cut to when the brokers refuse it whole.
const (
	deadLetterFirstCut = 1_000_000 - 16<<10 // fits Kafka's default max.message.bytes
	deadLetterMinCut   = 1 << 10
	maxDeadLetterKey   = 1 << 10
	maxDeadLetterError = 4 << 10
)

// deadLetters writes records that could not be decoded or handled to the
// dead-letter topic.
type deadLetters struct {
	topic    string
	disabled bool           // Config.DisableDeadLetter: drop after logging
	sender   func() *sender // the producer's, or the transaction's
	stats    *counters
	rlog     *rateLogger
	// failed, when set (exactly-once: send is the transactional producer's),
	// makes a write try once: a failure is handed to it and the write
	// reports false, and the transaction aborts.
	failed func(msg *kafka.Message, cause error, kind string, err error)
}

// write writes msg with the reason to the dead-letter topic. A dead letter
// the brokers refuse for its size is cut (HeaderDLTTruncated) until it fits;
// any other failure is retried until ctx ends (the ctx of msg's handling:
// the consumer gave up on it, or the manager closes), so a record is never
// committed without its dead letter. It reports false only when ctx ended
// before the write succeeded: the record is then handled again.
func (d *deadLetters) write(ctx context.Context, msg *kafka.Message, cause error, kind string, attempts int) bool {
	return d.writeCut(ctx, msg, cause, kind, attempts, 0)
}

// writeCut is write with the dead letter cut to budget bytes at once when
// budget > 0.
func (d *deadLetters) writeCut(ctx context.Context, msg *kafka.Message, cause error, kind string, attempts, budget int) bool {
	if d.disabled {
		d.stats.deadLetterFailed.Add(1)
		return true
	}
	tp := msg.TopicPartition
	errText, errCut := cutString(cause.Error(), maxDeadLetterError)
	dlt := []kafka.Header{
		{Key: HeaderDLTError, Value: []byte(errText)},
		{Key: HeaderDLTErrorKind, Value: []byte(kind)},
		{Key: HeaderDLTOriginalTopic, Value: []byte(*tp.Topic)},
		{Key: HeaderDLTOriginalPartition, Value: []byte(strconv.Itoa(int(tp.Partition)))},
		{Key: HeaderDLTOriginalOffset, Value: []byte(strconv.FormatInt(int64(tp.Offset), 10))},
		{Key: HeaderDLTAttempts, Value: []byte(strconv.Itoa(attempts))},
	}
	for _, h := range failureHeaders(cause) {
		v, cut := cutString(string(h.Value), maxDeadLetterError)
		dlt = append(dlt, kafka.Header{Key: h.Key, Value: []byte(v)})
		errCut = errCut || cut
	}
	if budget == 0 && (errCut || len(msg.Key) > maxDeadLetterKey) {
		budget = recordSize(msg) + headersSize(dlt) // cut only what must be
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	for {
		dlq := deadLetterRecord(d.topic, msg, dlt, errCut, budget)
		if d.failed != nil {
			if err := d.sender().send(ctx, dlq); err != nil {
				if ctx.Err() != nil {
					return false // not the dead letter's fault: the record is handled again
				}
				d.failed(msg, cause, kind, err)
				return false
			}
			d.stats.deadLettered.Add(1)
			return true
		}
		err := d.sender().sendUntilDone(ctx, dlq)
		switch {
		case err == nil:
			d.stats.deadLettered.Add(1)
			return true
		case errors.Is(err, errShuttingDown):
			return false
		case sizeRefused(err) && budget != deadLetterMinCut:
			budget = nextCut(budget, recordSize(dlq))
			d.rlog.Warn("kafka-broker: dead letter too large for the brokers; cutting it",
				"topic", d.topic, "original_offset", int64(tp.Offset), "budget", budget, "error", err)
			continue
		}
		d.stats.deadLetterRetries.Add(1)
		d.rlog.Error("kafka-broker: cannot write dead letter; retrying (the partition waits)",
			"topic", d.topic, "original_topic", *tp.Topic, "partition", tp.Partition,
			"offset", int64(tp.Offset), "error", err)
		select {
		case <-time.After(b.NextBackOff()):
		case <-ctx.Done():
			return false
		}
	}
}

// nextCut is the budget after the brokers refused a dead letter of size bytes.
func nextCut(budget, size int) int {
	if budget == 0 || budget > size {
		budget = size
	}
	if budget > deadLetterFirstCut {
		return deadLetterFirstCut
	}
	return max(budget/2, deadLetterMinCut)
}

// deadLetterRecord builds the dead letter of msg with the dlt headers, cut
// to budget bytes when budget > 0: the key to 1 KiB, then the original
// headers (dropped from the last) to half of what is left, then the value.
func deadLetterRecord(topic string, msg *kafka.Message, dlt []kafka.Header, errCut bool, budget int) *kafka.Message {
	key, value, orig := msg.Key, msg.Value, msg.Headers
	var cut []string
	if errCut {
		cut = append(cut, "error")
	}
	if budget > 0 {
		if len(key) > maxDeadLetterKey {
			key, cut = key[:maxDeadLetterKey], append(cut, "key")
		}
		room := budget - len(key) - headersSize(dlt) - 256 // the truncation headers
		if hs := headersSize(orig); hs+len(value) > room {
			for len(orig) > 0 && headersSize(orig) > room/2 {
				orig = orig[:len(orig)-1]
			}
			if len(orig) < len(msg.Headers) {
				cut = append(cut, "headers")
			}
			if room -= headersSize(orig); len(value) > room {
				value, cut = value[:max(room, 0)], append(cut, "value")
			}
		}
	}
	headers := make([]kafka.Header, 0, len(orig)+len(dlt)+3)
	headers = append(append(headers, orig...), dlt...)
	if len(cut) > 0 {
		headers = append(headers,
			kafka.Header{Key: HeaderDLTTruncated, Value: []byte(strings.Join(cut, ","))},
			kafka.Header{Key: HeaderDLTOriginalSize, Value: []byte(strconv.Itoa(recordSize(msg)))})
		if len(value) == 0 && len(msg.Value) > 0 {
			headers = append(headers, kafka.Header{Key: HeaderDLTValueDropped, Value: []byte("too large for the dead-letter topic")})
		}
	}
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key:            key,
		Value:          value,
		Headers:        headers,
	}
}

func headersSize(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// cutString cuts s to at most n bytes, on a rune boundary.
func cutString(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…", true
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// sizeRefused reports a produce error that a smaller record would not get.
func sizeRefused(err error) bool {
	var kerr kafka.Error
	if errors.Is(err, errRefusedWithBatch) || !errors.As(err, &kerr) {
		return false
	}
	switch kerr.Code() {
	case kafka.ErrMsgSizeTooLarge, kafka.ErrRecordListTooLarge, kafka.ErrInvalidMsgSize:
		return true
	}
	return false
}

// reasonOf names the dead-letter kind of a handler's final error.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrNoRoute):
		return DeadLetterNoRoute
	case errors.As(err, new(*InvalidError)):
		return DeadLetterInvalid
	case errors.Is(err, ErrHopLimit):
		return DeadLetterLoop
	case errors.Is(err, ErrReplyTopicNotAllowed), errors.Is(err, ErrNoReplyAddress):
		return DeadLetterReplyRefused
	}
	return DeadLetterHandler
}
