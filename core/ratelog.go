package core

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is the least time between two lines of one kind a rateLogger writes.
const logEvery = time.Second

// rateLogger writes messages that whoever writes to a topic can cause (one per
// malformed record, refused reply, eviction...) at most once per second for
// each message text, so a flood of bad records cannot flood the log. A line
// written after others were held back says how many with "suppressed"; the
// Stats counters count every one.
type rateLogger struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	kinds map[string]*rateState // by message; a fixed set of texts in code
}

type rateState struct {
	last       time.Time
	suppressed int
}

func newRateLogger(log *slog.Logger) *rateLogger {
	return &rateLogger{log: log, now: time.Now, kinds: make(map[string]*rateState)}
}

// Log writes msg at level unless a line with the same msg was written less
// than a second ago.
func (r *rateLogger) Log(level slog.Level, msg string, args ...any) {
	if !r.log.Enabled(context.Background(), level) {
		return
	}
	now := r.now()
	r.mu.Lock()
	s, ok := r.kinds[msg]
	if !ok {
		s = &rateState{}
		r.kinds[msg] = s
	}
	if ok && now.Sub(s.last) < logEvery {
		s.suppressed++
		r.mu.Unlock()
		return
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	r.log.Log(context.Background(), level, msg, args...)
}

func (r *rateLogger) Warn(msg string, args ...any)  { r.Log(slog.LevelWarn, msg, args...) }
func (r *rateLogger) Error(msg string, args ...any) { r.Log(slog.LevelError, msg, args...) }
func (r *rateLogger) Info(msg string, args ...any)  { r.Log(slog.LevelInfo, msg, args...) }
