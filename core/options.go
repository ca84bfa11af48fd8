package core

import (
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Option configures a Manager beyond its Config.
type Option interface{ apply(*options) }

type options struct {
	logger    *slog.Logger
	lateReply func(*EventObject)
	onEvict   func(*EventObject)

	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithLateReplyHook calls fn with each reply that arrived after its request
// gave up (timeout, cancel). fn must not block; it runs on the consumer.
func WithLateReplyHook(fn func(*EventObject)) Option {
	return optionFunc(func(o *options) { o.lateReply = fn })
}

// WithEvictionHook calls fn with each event the ConsumerStorage evicts.
// fn must not block.
func WithEvictionHook(fn func(*EventObject)) Option {
	return optionFunc(func(o *options) { o.onEvict = fn })
}
