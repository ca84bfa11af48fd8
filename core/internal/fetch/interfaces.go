package fetch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Consumer is what the fetcher needs of a librdkafka group consumer.
// Subscribe's rebalance callback runs inside Poll (and Close).
type Consumer interface {
	Subscribe(topic string, rebalance func(kafka.Event) error) error
	Poll(timeoutMs int) kafka.Event
	Pause(tps []kafka.TopicPartition) error
	Resume(tps []kafka.TopicPartition) error
	// Seek makes the next fetch of tp's partition start at tp.Offset.
	Seek(tp kafka.TopicPartition) error
	StoreOffsets(tps []kafka.TopicPartition) error
	// Commit commits the stored offsets, within ctx.
	Commit(ctx context.Context) error
	// Close leaves the group, within ctx.
	Close(ctx context.Context) error
	// Watermark returns the partition's high watermark as of the latest
	// fetch (no broker round trip); ok is false when none is known.
	Watermark(topic string, partition int32) (high int64, ok bool)
	// Position returns where the next fetch of the partition starts; ok is
	// false when that is not known yet.
	Position(topic string, partition int32) (offset int64, ok bool)
}

// Acks are the acknowledgements of what a handler sent.
type Acks interface {
	// Done is closed once every send is acknowledged or failed for good.
	Done() <-chan struct{}
	// Err, once Done is closed, is nil when every send was acknowledged.
	Err() error
}

// Dispatcher handles the records the fetcher polls.
type Dispatcher interface {
	// TakeEarly is called on the poll goroutine with a record before it is
	// queued, and with records read ahead while its partition is paused. It
	// reports whether the record was a reply it handed to its waiter at once;
	// the fetcher then only stores its offset, in order, and never hands it
	// to Handle. It must not block.
	TakeEarly(msg *kafka.Message) bool
	// Awaiting reports whether requests await replies that may come on the
	// fetched topic: a partition paused behind a full queue is then read
	// ahead for them.
	Awaiting() bool
	// Handle handles one record, on its partition's worker. acks, when not
	// nil, is what the record still waits for before its offset may be
	// stored. ok is false when the record was not handled because the
	// fetcher is stopping: it stays uncommitted, and so does every later
	// record of its partition.
	Handle(ctx context.Context, msg *kafka.Message) (acks Acks, ok bool)
}

// Committer commits the offsets of handled records in place of the
// consumer, together with what their handlers sent (core: a Kafka
// transaction). With a Committer the fetcher stores nothing in the consumer,
// which must not commit on its own, and commits at checkpoints
// (checkpoint.go): new records wait, the handlers in flight return, their
// sends are acknowledged, and the offsets after the contiguous prefix of
// finished records go to Commit. When Commit fails, or a record's handling
// or sends failed, the fetcher calls Abort and handles every record since
// the last commit again, from the offsets last committed. When Commit
// cannot tell whether it committed (ErrInDoubt), the fetcher neither aborts
// nor handles anything: it calls Commit again, with the same offsets, until
// the outcome is known.
type Committer interface {
	// Commit commits offsets (the next record to read of each partition
	// that moved) together with everything handled since the last commit.
	// An error wrapping ErrInDoubt says the outcome is not known yet (the
	// commit goes on in the background): the next call, with the same
	// offsets, resumes it and tells.
	Commit(ctx context.Context, offsets []kafka.TopicPartition) error
	// Abort discards everything handled since the last commit. It returns
	// nil once records may be handled again; until then the fetcher calls
	// it again, with backoff, and handles nothing.
	Abort(ctx context.Context) error
}

// ErrFatal is wrapped by a Committer's error that says it can commit nothing
// any more (another instance took its place): the fetcher stops handling
// records, leaving them uncommitted for the partitions' next owner.
var ErrFatal = errors.New("the committer cannot go on")

// ErrInDoubt is wrapped by a Commit error that says the commit's outcome is
// not known yet: it may still commit, so it must be resumed, not aborted
// (and the records it covers not handled again) until it tells.
var ErrInDoubt = errors.New("the commit's outcome is not known yet")

// ErrAbandoned is the cause of a handler's ctx when the fetcher gave up
// waiting for it (DrainTimeout at a revocation or an abort, or Stop's ctx):
// its record is handled again, by the next owner or after the rewind, so
// what the handler still sends or fails is not its record's any more.
var ErrAbandoned = errors.New("kafka-broker: handler abandoned: it outlived the drain of its partition, whose records are handled again")

// Settings configure a Fetcher.
type Settings struct {
	Topic string
	// Workers bounds handlers running at once across partitions.
	Workers int
	// PartitionQueue is how many records wait per partition for its worker;
	// as many more may be held before the partition is paused, and as many
	// records may wait for their acks.
	PartitionQueue int
	// DrainTimeout bounds the wait for the handlers (and acks) of revoked
	// partitions.
	DrainTimeout time.Duration
	// Closing, when closed, makes workers start no more records: a shutdown
	// leaves them uncommitted from its first moment, before Stop runs.
	Closing <-chan struct{}
	// Committer, when set, commits offsets in place of the consumer, every
	// CommitInterval (default 100ms), or once CommitRecords records (0: no
	// bound) were handled since the last commit, whichever comes first.
	Committer      Committer
	CommitInterval time.Duration
	CommitRecords  int
	// OnError, when set, sees every error event of the consumer before it is
	// logged.
	OnError func(kafka.Error)
	Log     *slog.Logger
}
