package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws a spinner line with a message and the time elapsed, for a
// person waiting at a terminal. A nil *progress draws nothing.
type progress struct {
	w     io.Writer
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	once sync.Once
	mu   sync.Mutex
	msg  string
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const clearLine = "\r\033[K"

// startProgress draws msg on w until Stop; it returns nil when w is not a
// terminal.
func startProgress(env Env, w io.Writer, msg string) *progress {
	if !isTerminal(env, w) {
		return nil
	}
	return newProgress(w, msg)
}

func newProgress(w io.Writer, msg string) *progress {
	p := &progress{w: w, msg: msg, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s %s (%.1fs)", clearLine, spinnerFrames[i%len(spinnerFrames)], p.msg,
			time.Since(p.start).Seconds())
		p.mu.Unlock()
		select {
		case <-t.C:
		case <-p.stop:
			p.mu.Lock()
			fmt.Fprint(p.w, clearLine)
			p.mu.Unlock()
			return
		}
	}
}

// Println prints line on w (the terminal the spinner is on, or another
// stream to it) above the spinner, which is drawn again at its next tick.
// A nil *progress prints the line alone.
func (p *progress) Println(w io.Writer, line string) {
	if p == nil {
		fmt.Fprintln(w, line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, clearLine)
	fmt.Fprintln(w, line)
}

// Set changes the message.
func (p *progress) Set(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.msg = msg
	p.mu.Unlock()
}

// Stop clears the line and returns once nothing more is drawn. It may be
// called more than once.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.stop) })
	<-p.done
}
