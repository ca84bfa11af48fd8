package core

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// RedriveRecord is what the ledger knows of a redriven dead letter.
type RedriveRecord struct {
	// Times counts the redrives of this dead letter (more than 1 only when
	// forced).
	Times int `json:"times"`
	// At is when it was last redriven, and To where.
	At time.Time `json:"at"`
	To string    `json:"to"`
	// Forced: the last redrive overrode a refusal.
	Forced bool `json:"forced,omitempty"`
	// Job names the redrive job (see RedriveOptions.Job).
	Job string `json:"job,omitempty"`

	// For people reading the ledger topic.
	Topic         string `json:"dlq"`
	Partition     int32  `json:"partition"`
	Offset        int64  `json:"offset"`
	TopicID       string `json:"dlq_topic_id,omitempty"`
	Kind          string `json:"kind,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

func ledgerKey(partition int32, offset int64) string {
	return strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// readLedger reads the ledger topic to its end: the last record of each
// key. Records of another incarnation of the dead-letter topic (another
// topic ID) are ignored. A missing ledger is an empty one.
func (d *DeadLetters) readLedger(ctx context.Context, topicID string) (map[string]*RedriveRecord, error) {
	out := map[string]*RedriveRecord{}
	l, err := d.describe(ctx, d.ledger)
	if errors.Is(err, ErrUnknownTopic) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := d.newReader("")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ss, err := ranges(ctx, c, d.ledger, l.partitions, nil)
	if err != nil {
		return nil, err
	}
	err = scan(ctx, c, d.ledger, ss, func(msg *kafka.Message) error {
		key := string(msg.Key)
		if len(msg.Value) == 0 {
			delete(out, key) // a tombstone
			return nil
		}
		var r RedriveRecord
		if err := json.Unmarshal(msg.Value, &r); err != nil {
			d.log.Warn("kafka-broker: unreadable record in the redrive ledger; ignored", "topic", d.ledger,
				"offset", int64(msg.TopicPartition.Offset), "error", err)
			return nil
		}
		if topicID != "" && r.TopicID != "" && r.TopicID != topicID {
			return nil // the dead-letter topic was deleted and created again since
		}
		out[key] = &r
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ensureLedger creates the ledger topic, compacted, when it is missing.
func (d *DeadLetters) ensureLedger(ctx context.Context) error {
	if _, err := d.describe(ctx, d.ledger); err == nil {
		return nil
	} else if !errors.Is(err, ErrUnknownTopic) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs(ctx, 30*time.Second))*time.Millisecond)
	defer cancel()
	topics := &admin{a: d.admin, brokers: d.cfg.BootstrapServers, log: d.log}
	spec := topicSpec{partitions: 1, replicationFactor: d.cfg.ReplicationFactor, config: map[string]string{"cleanup.policy": "compact"}}
	if err := topics.ensureTopics(ctx, spec, d.ledger); err != nil {
		return errorf("kafka-broker: create the redrive ledger %s: %w", d.ledger, err)
	}
	for {
		_, err := d.describe(ctx, d.ledger)
		if err == nil || !errors.Is(err, ErrUnknownTopic) {
			return err
		}
		select {
		case <-ctx.Done():
			return errorf("kafka-broker: the redrive ledger %s was created but is not known yet: %w", d.ledger, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
