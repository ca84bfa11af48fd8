// Package fetch consumes one topic as a member of a consumer group and hands
// its records to a Dispatcher: one goroutine polls, and each assigned
// partition has a worker that handles its records in order, so partitions
// are handled concurrently and order is kept within each.
//
// An offset is stored for commit only after its record was handled and
// everything its handler sent was acknowledged (the Dispatcher returns
// those acknowledgements as Acks), in partition order: the committed
// position is the end of the contiguous prefix of finished records, so a
// handler may return while its replies are still in flight and the next
// record of its partition is handled meanwhile.
//
// Flow control (partition.go) keeps memory bounded and order intact: a
// partition whose worker queue is full holds what was already polled (up to
// another queue's worth) and is then paused in librdkafka, without dropping
// anything; it resumes when the queue is down to half. While a paused
// partition waits and requests await replies (Dispatcher.Awaiting), the
// partition is read ahead so that a reply written behind the full queue (to
// the very handler that holds it up) still reaches its waiter; what read-ahead
// skipped is read again when it ends.
//
// With a Committer (Settings.Committer, checkpoint.go) the consumer stores
// and commits nothing: every CommitInterval a checkpoint holds new records
// back, waits for the handlers in flight and their acks, and hands the
// offsets to the Committer (core: a Kafka transaction that holds what the
// handlers sent); when that fails, or a record failed, the Committer aborts
// and the partitions are rewound to their last committed offsets.
//
// The package knows nothing of events or replies: it sees records, a small
// Consumer interface over librdkafka, and a Dispatcher.
package fetch
