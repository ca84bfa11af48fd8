//go:build interop

package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// Time limits. The machine may be small and shared, and the Python consumer
// polls once a second: be generous, nothing waits for a limit to pass.
const (
	readyTimeout   = 120 * time.Second // Python: consumer group assigned, READY printed
	requestTimeout = 120 * time.Second // one Request, or the Python requester's wait for all replies
	processTimeout = 5 * time.Minute   // a Python requester run from start to exit
	stopTimeout    = 30 * time.Second  // SIGTERM to exit of a Python responder
)

// ---------------------------------------------------------------- environment

// pythonBin is the venv python with kafka-broker installed (scripts/test-interop sets it).
func pythonBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("INTEROP_PYTHON")
	if p == "" {
		t.Fatal("INTEROP_PYTHON is not set: run these tests with scripts/test-interop (make test-interop), " +
			"or set INTEROP_PYTHON to a python with `pip install -r interop/requirements.txt` done " +
			"and MEMCACHED_ADDRESS to a running memcached")
	}
	return p
}

func memcachedAddress(t testing.TB) string {
	t.Helper()
	a := os.Getenv("MEMCACHED_ADDRESS")
	if a == "" {
		t.Fatal("MEMCACHED_ADDRESS is not set: run these tests with scripts/test-interop (make test-interop)")
	}
	return a
}

// ---------------------------------------------------------------- Go managers

// startManager returns a manager whose consumer runs; it is closed at the end of the test.
func startManager(t testing.TB, cfg core.Config, router *core.EventRouter) *core.Manager {
	t.Helper()
	m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close %s: %v", cfg.Location, err)
		}
	})
	if router != nil {
		m.SetRouter(router)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := m.InitConsumer(ctx); err != nil {
		t.Fatalf("InitConsumer %s: %v", cfg.Location, err)
	}
	return m
}

// ---------------------------------------------------------------- Python processes

// lineBuf collects a process's output by line and wakes waiters on each write.
type lineBuf struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced on every write
}

func newLineBuf() *lineBuf { return &lineBuf{changed: make(chan struct{})} }

func (b *lineBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, strings.TrimRight(string(b.partial[:i]), "\r"))
		b.partial = b.partial[i+1:]
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns the complete lines so far and a channel closed at the next write.
func (b *lineBuf) snapshot() ([]string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...), b.changed
}

func (b *lineBuf) all() []string {
	l, _ := b.snapshot()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		l = append(l, string(b.partial))
	}
	return l
}

// pyProc is a running interop script. Its process group is killed at the end
// of the test, so the package's forked consumer cannot outlive it.
type pyProc struct {
	t           testing.TB
	name        string
	cmd         *exec.Cmd
	stdout      *lineBuf
	stderr      *lineBuf
	done        chan struct{} // closed once the process was waited for
	exitCode    int
	consumerPID int // the package's forked consumer, from the READY line
}

// startPython runs interop/<script> with the venv python, the test broker
// and memcached. args override anything from the environment.
func startPython(t testing.TB, name, script string, args ...string) *pyProc {
	t.Helper()
	py := pythonBin(t)
	mc := memcachedAddress(t)
	path, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{"-u", path}, args...)...)
	// Everything else comes from flags: drop what the caller's environment
	// could set for the scripts (KAFKA_GROUP_ID, INTEROP_MAX, ...).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAFKA_") && !strings.HasPrefix(kv, "INTEROP_") && !strings.HasPrefix(kv, "MEMCACHED_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"PYTHONUNBUFFERED=1",
		"KAFKA_BOOTSTRAP_SERVERS="+kafkatest.Bootstrap(t),
		"MEMCACHED_ADDRESS="+mc,
		"INTEROP_LOG_LEVEL=30",
	)
	// Own process group, so cleanup can kill the script and the package's
	// forked consumer together; SIGTERM (the scripts' clean stop) if this test
	// binary dies first (a -timeout panic, SIGQUIT), so nothing is orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &pyProc{t: t, name: name, cmd: cmd, stdout: newLineBuf(), stderr: newLineBuf(), done: make(chan struct{}), exitCode: -1}
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stderr
	// The forked consumer inherits stdout/stderr: do not wait forever for it to close them.
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		p.exitCode = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(p.cleanup)
	return p
}

func (p *pyProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLines waits until want accepts the stdout lines so far, the process
// exits, or timeout passes; the last two are errors.
func (p *pyProc) waitLines(timeout time.Duration, what string, want func(lines []string) bool) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		lines, changed := p.stdout.snapshot()
		if want(lines) {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if lines, _ := p.stdout.snapshot(); want(lines) {
				return nil
			}
			return fmt.Errorf("%s exited (code %d) before %s", p.name, p.exitCode, what)
		case <-timer.C:
			return fmt.Errorf("%s: no %s within %v", p.name, what, timeout)
		}
	}
}

// waitReady waits for the READY line and records the consumer process id.
func (p *pyProc) waitReady(t testing.TB) {
	t.Helper()
	var ready string
	err := p.waitLines(readyTimeout, "READY line", func(lines []string) bool {
		for _, l := range lines {
			if strings.HasPrefix(l, "READY") {
				ready = l
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(field(ready, "consumer_pid"))
	if err != nil || pid <= 0 {
		t.Fatalf("%s: READY line without consumer_pid: %q", p.name, ready)
	}
	p.consumerPID = pid
}

// wait waits for the process to exit by itself and returns its exit code.
func (p *pyProc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v", p.name, timeout)
		return -1
	}
}

// terminate sends SIGTERM (the scripts' clean stop: the forked consumer gets
// SIGINT, closes and is joined) and returns the exit code.
func (p *pyProc) terminate(t testing.TB) int {
	t.Helper()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Errorf("%s did not stop within %v of SIGTERM; killing its process group", p.name, stopTimeout)
		p.killGroup()
		<-p.done
	}
	return p.exitCode
}

func (p *pyProc) killGroup() {
	// Setpgid: the group id is the script's pid; the forked consumer is in it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// cleanup stops the process if it still runs, kills whatever is left of its
// group, checks the package's forked consumer is gone, and logs the output
// when the test failed.
func (p *pyProc) cleanup() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			p.t.Errorf("%s did not stop within %v of SIGTERM; killed", p.name, stopTimeout)
		}
	}
	p.killGroup()
	<-p.done
	if p.consumerPID > 0 {
		// The script joins its consumer before it exits; after a kill, init
		// reaps it. Either way it must be gone (or a zombie) promptly.
		deadline := time.Now().Add(10 * time.Second)
		for processAlive(p.consumerPID) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(p.consumerPID) {
			p.t.Errorf("%s: the package's forked consumer (pid %d) outlived the script", p.name, p.consumerPID)
			_ = syscall.Kill(p.consumerPID, syscall.SIGKILL)
		}
	}
	if p.t.Failed() {
		p.logOutput()
	}
}

func (p *pyProc) logOutput() {
	const keep = 200
	for _, s := range []struct {
		name string
		buf  *lineBuf
	}{{"stdout", p.stdout}, {"stderr", p.stderr}} {
		lines := s.buf.all()
		if len(lines) > keep {
			lines = append([]string{fmt.Sprintf("... %d lines omitted", len(lines)-keep)}, lines[len(lines)-keep:]...)
		}
		p.t.Logf("%s %s (exit code %d):\n\t%s", p.name, s.name, p.exitCode, strings.Join(lines, "\n\t"))
	}
}

// processAlive reports whether pid runs (a zombie does not count).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// linesWith returns the lines starting with prefix.
func linesWith(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// failures returns the scripts' FAIL lines, each with the "  - ..." detail
// lines that follow it.
func failures(lines []string) []string {
	var out []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "FAIL"):
			out = append(out, l)
		case strings.HasPrefix(l, "  - ") && len(out) > 0:
			out[len(out)-1] += "\n\t" + l
		}
	}
	return out
}

// field returns the value of "name=value" among the line's space-separated words.
func field(line, name string) string {
	for _, w := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v
		}
	}
	return ""
}

// dataOf returns the JSON after " data=", which the scripts always print last.
func dataOf(line string) json.RawMessage {
	i := strings.Index(line, " data=")
	if i < 0 {
		return nil
	}
	return json.RawMessage(line[i+len(" data="):])
}

// ---------------------------------------------------------------- JSON

// jsonDiff compares two JSON documents semantically: object key order and
// number spelling (1e-07, 1E-7) do not matter, but integers are compared
// exactly (2^53+1 != 2^53) and an integer never equals a fraction or exponent
// form (Python tells 1 from 1.0). It returns "" when they are equal.
func jsonDiff(want, got []byte) string {
	w, err := decodeJSON(want)
	if err != nil {
		return fmt.Sprintf("want is not JSON: %v: %s", err, want)
	}
	g, err := decodeJSON(got)
	if err != nil {
		return fmt.Sprintf("got is not JSON: %v: %s", err, got)
	}
	return valueDiff("$", w, g)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

func valueDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T %v, want an object", path, got, got)
		}
		keys := func(m map[string]any) []string {
			var ks []string
			for k := range m {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			return ks
		}
		if wk, gk := keys(w), keys(g); strings.Join(wk, "\x00") != strings.Join(gk, "\x00") {
			return fmt.Sprintf("%s: keys %q, want %q", path, gk, wk)
		}
		for _, k := range keys(w) {
			if d := valueDiff(path+"["+strconv.Quote(k)+"]", w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %T %v, want an array", path, got, got)
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s: length %d, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := valueDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return fmt.Sprintf("%s: got %T %v, want number %s", path, got, got, w)
		}
		wi, wIsInt := new(big.Int).SetString(string(w), 10)
		gi, gIsInt := new(big.Int).SetString(string(g), 10)
		switch {
		case wIsInt != gIsInt:
			return fmt.Sprintf("%s: got %s, want %s (integer vs float)", path, g, w)
		case wIsInt:
			if wi.Cmp(gi) != 0 {
				return fmt.Sprintf("%s: got %s, want %s", path, g, w)
			}
		default:
			wf, err1 := strconv.ParseFloat(string(w), 64)
			gf, err2 := strconv.ParseFloat(string(g), 64)
			if err1 != nil || err2 != nil || wf != gf {
				return fmt.Sprintf("%s: got %s, want %s", path, g, w)
			}
		}
		return ""
	default: // string, bool, nil
		if want != got {
			return fmt.Sprintf("%s: got %#v, want %#v", path, got, want)
		}
		return ""
	}
}

// withFields returns the JSON object obj with extra members set.
func withFields(t testing.TB, obj json.RawMessage, kv map[string]any) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatalf("withFields: %v", err)
	}
	for k, v := range kv {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = b
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkUnix reports a time that is not whole unix seconds within [lo-1, hi+1].
func checkUnix(what string, v int64, lo, hi time.Time) string {
	if v < lo.Unix()-1 || v > hi.Unix()+1 {
		unit := ""
		if v > 1e11 {
			unit = " (milliseconds?)"
		}
		return fmt.Sprintf("%s = %d, not within [%d, %d]%s", what, v, lo.Unix(), hi.Unix(), unit)
	}
	return ""
}
