// Package cli implements the kafka-broker command: a standalone in-memory
// broker for local development (dev) and commands to send and watch events
// without writing code (request, produce, tail).
//
// Run is the entry point, testable in-process with an Env of buffers;
// cmd/kafka-broker only wires it to the process and its signals.
package cli
