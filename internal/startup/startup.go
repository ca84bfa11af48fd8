// Package startup starts a Manager's consumer for the runners that own one
// (gininteg and echointeg's Run, fxmodule, the examples): bounded in time,
// and with an error that names the brokers and says what to do about it.
package startup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// DefaultTimeout bounds a start when the caller sets no bound: long enough
// for a group join on a busy broker, short enough that a service pointed at
// the wrong address fails within a minute.
const DefaultTimeout = 30 * time.Second

// maxPing bounds the metadata request that tells an unreachable broker from
// a slow group join once the start gave up; it takes a fifth of the start's
// time at most, so that the whole stays within the timeout.
const maxPing = 2 * time.Second

// Consumer runs m.InitConsumer until it returns, timeout passes (default
// DefaultTimeout) or ctx ends. When the time runs out, the error says
// whether the brokers answer at all and what to change; knob names the
// setting that changes timeout ("WithInitTimeout"). An error because ctx
// ended is returned as InitConsumer gave it.
func Consumer(ctx context.Context, m *core.Manager, timeout time.Duration, knob string) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	pingTimeout := min(maxPing, timeout/5)
	initCtx, cancel := context.WithTimeout(ctx, timeout-pingTimeout)
	defer cancel()
	err := m.InitConsumer(initCtx)
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Err: err, Brokers: m.Config().BootstrapServers, Timeout: timeout, Knob: knob,
		Reachable: ping(ctx, m, pingTimeout) == nil, Group: m.Config().GroupID}
}

func ping(ctx context.Context, m *core.Manager, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return m.Ping(ctx)
}

// Error is a start that ran out of time.
type Error struct {
	Err       error // InitConsumer's error
	Brokers   string
	Timeout   time.Duration
	Knob      string
	Reachable bool // the brokers answered a metadata request afterwards
	Group     string
}

func (e *Error) Error() string {
	timeout := e.Timeout.Round(time.Millisecond)
	if e.Timeout >= time.Second {
		timeout = e.Timeout.Round(100 * time.Millisecond) // what is left of fx's start timeout: 13s, not 12.99981s
	}
	if !e.Reachable {
		return fmt.Sprintf("%v: no Kafka broker answered at %s within %s: start Kafka there, or set "+
			"KAFKA_BOOTSTRAP_SERVERS (Config.BootstrapServers) to the address of a running broker", e.Err, e.Brokers, timeout)
	}
	return fmt.Sprintf("%v: the brokers at %s answer, but the consumer did not start within %s: check that its "+
		"topics exist or may be created and that group %s may be joined (ACLs, the broker's logs), or allow more time (%s)",
		e.Err, e.Brokers, timeout, e.Group, e.Knob)
}

func (e *Error) Unwrap() error { return e.Err }
