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
// # Dispatch of consumed records
//
// A record read from the Location topic goes, in order of preference, to the
// Request or ConsumerStorage.Consume call awaiting its correlation ID, to the
// router when one is set, or into the ConsumerStorage. Its offset is committed
// only after that. Records that cannot be decoded, and events whose handler
// keeps failing, go to the dead-letter topic.
//
// # Delivery
//
// Consumption is at-least-once: a handler may see an event again after a
// crash or a rebalance, never miss one whose offset was committed. Order is
// kept within a partition; partitions are handled concurrently.
package core
