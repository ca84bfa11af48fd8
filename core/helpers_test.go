package core_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// testConfig returns a Config on the test broker with a Location unique to the test.
func testConfig(t testing.TB) core.Config {
	t.Helper()
	return core.Config{
		BootstrapServers: kafkatest.Bootstrap(t),
		Location:         kafkatest.Name(t, "svc"),
		InitialBackoff:   10 * time.Millisecond,
		MaxBackoff:       50 * time.Millisecond,
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("KB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newManager returns a manager closed at the end of the test.
func newManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	opts = append([]core.Option{core.WithLogger(testLogger())}, opts...)
	m, err := core.NewManager(cfg, opts...)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// startManager returns a manager whose consumer runs.
func startManager(t testing.TB, cfg core.Config, opts ...core.Option) *core.Manager {
	t.Helper()
	m := newManager(t, cfg, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer: %v", err)
	}
	return m
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
