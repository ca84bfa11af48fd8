// Package core is kafka-broker-go's transport-agnostic heart: the EventObject
// envelope, the Manager that produces events and consumes its Location topic
// in the background, request/reply by correlation ID, the ConsumerStorage, and
// the EventRouter that dispatches dotted routing keys to handlers.
//
// It speaks the wire format of the Python kafka-broker package (a JSON
// EventObject per record, keyed by correlation ID, with an audit log of hops),
// so Go and Python services can call each other both ways.
//
// # Life of a Manager
//
//	m, err := core.NewManager(cfg)      // validates cfg, connects the producer
//	m.SetRouter(router)                 // optional: consumed events go to handlers
//	err = m.InitConsumer(ctx)           // returns once partitions are assigned
//	reply, err := m.Request(ctx, "billing", ev)
//	err = m.Close(ctx)                  // drain handlers, commit, flush
//
// # How it works
//
// A Manager is a facade that wires small parts: the fetcher
// (core/internal/fetch: the consumer group, a worker per partition, flow
// control, offsets stored in partition order as each record's acks
// complete), the dispatcher (decode, hop limit, replies, router with
// retries, storage, dead letters), the replies (pending requests, the reply
// consumer, forwarding) and the sender (the producer; sends that wait for
// their ack and sends that do not).
//
// A record read from the Location topic goes, in order of preference, to the
// Request or ConsumerStorage.Consume call awaiting its correlation ID, to the
// router when one is set, or into the ConsumerStorage. A handler's Reply and
// Produce calls are queued in the producer (pipelined): the next record of
// the partition is handled meanwhile, and the record's offset is committed
// only once they are acknowledged (AwaitAcks waits for them). Records that
// cannot be decoded, and events whose handler keeps failing, go to the
// dead-letter topic.
//
// A Request registers its waiter, produces the event with the
// kafka_replyTopic header, and waits; the reply consumer reads the reply
// topic without group membership and hands the reply over.
//
// # Delivery
//
// Consumption is at-least-once: a handler may see an event again after a
// crash or a rebalance, never miss one whose offset was committed. Order is
// kept within a partition; partitions are handled concurrently.
package core
