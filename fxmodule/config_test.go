package fxmodule_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/fxmodule"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestLoggerFromGraph(t *testing.T) {
	t.Parallel()
	var buf kafkatest.Buffer
	cfg := kafkatest.Config(t, "fx")
	app := fxtest.New(t,
		fx.Supply(cfg, slog.New(slog.NewTextHandler(&buf, nil))),
		fxmodule.Module,
		fx.StartTimeout(startTimeout),
		fx.StopTimeout(startTimeout),
	)
	app.RequireStart()
	app.RequireStop()
	if out := buf.String(); !strings.Contains(out, "consumer ready") || !strings.Contains(out, cfg.Location) {
		t.Fatalf("the graph's logger did not get the manager's logs:\n%s", out)
	}
}

func TestConfigFromEnv(t *testing.T) {
	bootstrap := kafkatest.Bootstrap(t)
	t.Run("used when none supplied", func(t *testing.T) {
		loc := kafkatest.Name(t, "env")
		t.Setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
		t.Setenv("KAFKA_LOCATION", loc)
		t.Setenv("KAFKA_REQUEST_TIMEOUT", "7s")
		var m *core.Manager
		app := fxtest.New(t, fxmodule.Module, fx.Populate(&m), fx.Supply(kafkatest.Logger()),
			fx.StartTimeout(startTimeout), fx.StopTimeout(startTimeout))
		app.RequireStart()
		app.RequireStop()
		if c := m.Config(); c.Location != loc || c.BootstrapServers != bootstrap || c.RequestTimeout != 7*time.Second {
			t.Fatalf("config %+v, want the environment's", c)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
		t.Setenv("KAFKA_LOCATION", "")
		app := fx.New(fxmodule.Module, fx.NopLogger, fx.Invoke(func(*core.Manager) {}))
		err := app.Start(kafkatest.Context(t, 10*time.Second))
		if err == nil || !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP_SERVERS") {
			t.Fatalf("Start: %v, want an error naming KAFKA_BOOTSTRAP_SERVERS", err)
		}
		var ce *core.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("Start: %v, want a *core.ConfigError", err)
		}
	})
}
