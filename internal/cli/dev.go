package cli

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/kafka-broker/kafka-broker-go/embedded"
)

const devAbout = `
Runs an in-process Kafka-protocol broker (franz-go's kfake) on 127.0.0.1, so
that services written with any Kafka client (Go, Python, Java, ...) can be
developed without Docker or a Kafka install. Point them at the printed
address, e.g. KAFKA_BOOTSTRAP_SERVERS=localhost:9092.

Data is kept in memory only: topics, events and consumer groups are lost
when the broker stops. Topics are created on first use. Ctrl-C stops it.`

const devMore = `
Exit status:
  0    stopped by Ctrl-C
  1    the broker could not start (the port is in use, ...)
  2    bad flags

Examples:
  kafka-broker dev
  kafka-broker dev --port 19092 --partitions 1`

func runDev(ctx context.Context, env Env, args []string) int {
	var port, partitions int
	fs := newFlagSet("dev", "dev [flags]", devAbout, devMore)
	fs.IntVar(&port, "port", 9092, "`port` to listen on, on 127.0.0.1 (0 picks a free one)")
	fs.IntVar(&partitions, "partitions", embedded.DefaultPartitions, "`count` of partitions of topics created on first use")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return fs.fail(env, err)
	}
	if port < 0 || port > 65535 {
		return fail(env, "dev", usagef("--port: not a port (0 to 65535): %d", port))
	}
	if partitions < 1 {
		return fail(env, "dev", usagef("--partitions: must be at least 1: %d", partitions))
	}
	c, err := embedded.Start(embedded.WithPort(port), embedded.WithPartitions(partitions))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("port %d is in use (is another broker running?); choose another with --port", port)
		}
		return fail(env, "dev", err)
	}
	defer c.Close()
	addr := c.BootstrapServers()
	fmt.Fprintf(env.Stdout, `kafka-broker dev: Kafka-protocol broker listening on %s
  Data is in memory only: it is lost when the broker stops.
  Connect with: KAFKA_BOOTSTRAP_SERVERS=%s
  Ctrl-C stops the broker.
`, addr, addr)
	<-ctx.Done()
	c.Close()
	fmt.Fprintln(env.Stdout, "kafka-broker dev: stopped")
	return ExitOK
}
