// Command consumer is a test-only service for crash tests: it consumes its
// Location with a core.Manager and appends the correlation ID of every event
// it handled to a file, one per line, before the offset can be committed.
// A test kills it with SIGKILL and starts it again. Client properties come
// from the environment as KAFKA_PROP_<NAME> (kafkatest.ClientProps).
//
//	consumer -brokers 127.0.0.1:9092 -location svc -out handled.txt
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
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
	out := flag.String("out", "", "file to append handled correlation IDs to")
	flag.Parse()
	if err := run(*brokers, *location, *out); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(brokers, location, out string) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	props := kafkatest.ClientProps()
	props["session.timeout.ms"] = 6000
	props["heartbeat.interval.ms"] = 500
	m, err := core.NewManager(core.Config{
		BootstrapServers: brokers,
		Location:         location,
		Kafka:            props,
	}, core.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	r := core.NewEventRouter("root")
	r.BindEvent("#", func(_ context.Context, ev *core.EventObject) error {
		mu.Lock()
		defer mu.Unlock()
		// One write(2) per event: it survives SIGKILL of this process.
		_, err := f.WriteString(ev.CorrelationID + "\n")
		return err
	})
	m.SetRouter(r)
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
