// Package clustertest holds the tests of the cluster tier (make
// test-kafka-cluster): request/reply under load across a partition leader's
// SIGKILL and a rolling restart of a three-node KRaft cluster, and the
// replication of the topics the library creates. They run against the
// cluster scripts/kafka starts with KAFKA_NODES=3, which KAFKA_SCRIPT names
// and KAFKA_NODES sizes, and skip otherwise.
package clustertest
