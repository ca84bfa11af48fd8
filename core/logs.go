package core

import (
	"context"
	"log/slog"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// logForwarder writes librdkafka's logs to the logger: syslog levels 0-3 as
// errors, 4 as warnings, the rest (mostly connection chatter) as debug.
type logForwarder struct {
	log  *slog.Logger
	ch   chan kafka.LogEvent
	done chan struct{}
}

func newLogForwarder(log *slog.Logger) *logForwarder {
	f := &logForwarder{log: log, ch: make(chan kafka.LogEvent, 256), done: make(chan struct{})}
	go f.run()
	return f
}

func (f *logForwarder) run() {
	defer close(f.done)
	for e := range f.ch {
		level := slog.LevelDebug
		switch {
		case e.Level <= 3:
			level = slog.LevelError
		case e.Level == 4:
			level = slog.LevelWarn
		}
		f.log.Log(context.Background(), level, "librdkafka: "+e.Message, "client", e.Name, "tag", e.Tag)
	}
}

// stop ends the forwarding once no client can log any more.
func (f *logForwarder) stop() {
	close(f.ch)
	<-f.done
}
