// Command responder is a test-only service for the cluster failover test: it
// consumes its Location with a core.Manager, answers "work.echo" requests with
// their data, and appends "<event> <correlation ID>" to a file for every
// event it handled ("work.echo" before replying, "work.note" events too), so
// a test can count what was handled and how often. Client properties come
// from the environment as KAFKA_PROP_<NAME> (kafkatest.ClientProps). It
// prints READY once its consumer runs and closes on SIGTERM. With -events,
// "work.echo" also produces an event keyed by the request's correlation ID
// to that topic before it replies; with -transactional the responder is
// exactly-once (core.Config.Transactional, -txn-id its TransactionalID).
//
//	responder -brokers 127.0.0.1:29192 -location work -out handled-1.txt
//	responder -brokers ... -location work -out a.txt -events work-events -transactional -txn-id work.a
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func main() {
	brokers := flag.String("brokers", "", "bootstrap servers")
	location := flag.String("location", "", "topic and group to consume")
	out := flag.String("out", "", "file to append handled events to")
	events := flag.String("events", "", "topic that work.echo produces an event to before it replies")
	txn := flag.Bool("transactional", false, "exactly-once (core.Config.Transactional)")
	txnID := flag.String("txn-id", "", "core.Config.TransactionalID")
	flag.Parse()
	cfg := core.Config{
		BootstrapServers: *brokers,
		Location:         *location,
		Kafka:            kafkatest.ClientProps(),
		Transactional:    *txn,
		TransactionalID:  *txnID,
	}
	if err := run(cfg, *out, *events); err != nil {
		fmt.Fprintln(os.Stderr, "responder:", err)
		os.Exit(1)
	}
}

func run(cfg core.Config, out, events string) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	record := func(ev *core.EventObject) error {
		mu.Lock()
		defer mu.Unlock()
		// One write(2) per event: it survives a crash of this process.
		_, err := f.WriteString(ev.Event + " " + ev.CorrelationID + "\n")
		return err
	}
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		return err
	}
	work := core.NewEventRouter("work")
	work.BindEvent("echo", func(ctx context.Context, ev *core.EventObject) error {
		if err := record(ev); err != nil {
			return err
		}
		if events != "" {
			note := &core.EventObject{CorrelationID: ev.CorrelationID, Event: "work.noted", Data: ev.Data}
			if err := m.Produce(ctx, events, note); err != nil {
				return err
			}
		}
		return m.Reply(ctx, ev, ev.Data)
	})
	work.BindEvent("note", func(_ context.Context, ev *core.EventObject) error { return record(ev) })
	root := core.NewEventRouter("root")
	root.IncludeBinder(work)
	m.SetRouter(root)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	initCtx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if err := m.InitConsumer(initCtx); err != nil {
		return err
	}
	fmt.Println("READY")
	<-ctx.Done()
	closeCtx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	return m.Close(closeCtx)
}
