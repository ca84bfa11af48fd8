//go:build interop

// Package interop_test checks that Go services built on core and Python
// services built on the PyPI package kafka-broker (0.3.x) talk to each other
// through one broker, both ways, with the Python side driven by the scripts
// in this directory. Run it with scripts/test-interop (make test-interop),
// which provides the venv (INTEROP_PYTHON) and memcached (MEMCACHED_ADDRESS).
package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

const echoEvent = "interop.echo"

// pyRequesterPayload is py_requester.py's PAYLOAD (each request adds "seq"),
// written independently here so the Go side checks what it decoded.
const pyRequesterPayload = `{
	"text": "café ☕ 日本",
	"astral": "emoji 🚀 outside the BMP",
	"escapes": "quote \" backslash \\ newline \n tab \t html <b>&amp;</b>",
	"nested": {"a": {"b": [1, 2, {"c": null, "d": "ü"}]}, "empty_obj": {}, "empty_list": []},
	"list": [1, "two", 3.5, true, false, null, {"k": "v"}, []],
	"null": null,
	"int": 42,
	"negative": -7,
	"zero": 0,
	"big_int": 9007199254740993,
	"float": 3.14159,
	"small_float": 1e-7,
	"bool_true": true,
	"bool_false": false,
	"empty_string": "",
	"ключ ñ": "unicode key"
}`

// goPayload is what Go requests carry: nested objects, unicode (with a
// character outside the BMP, which Python escapes as a surrogate pair), lists,
// nulls, and integers no float64 holds exactly.
func goPayload(instance, seq int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{
	"from": "go", "instance": %d, "seq": %d,
	"text": "café ☕ 日本", "astral": "rocket 🚀 clef 𝄞",
	"escapes": "quote \" backslash \\ newline \n tab \t <b>&amp;</b> \u2028",
	"nested": {"a": {"b": [1, 2, {"c": null, "d": "ü"}]}, "empty_obj": {}, "empty_list": []},
	"list": [1, "two", 3.5, true, false, null, {"k": "v"}, [], [[null]]],
	"null": null,
	"big_int": 9007199254740993, "huge_int": 123456789012345678901234567890,
	"min_int64": -9223372036854775808, "float": 0.1, "small_float": 1e-7, "zero": 0,
	"empty_string": "", "ключ ñ": "unicode key"
}`, instance, seq))
}

// echoRouter routes interop.echo (bind "echo" in router "interop", as the
// Python package would) to h.
func echoRouter(h core.HandlerFunc) *core.EventRouter {
	root := core.NewEventRouter("root")
	r := core.NewEventRouter("interop")
	r.BindEvent("echo", h)
	root.IncludeBinder(r)
	return root
}

// goEchoService is a Go responder that checks each request the way a Go
// service sees a Python request, records it and replies with Reply.
type goEchoService struct {
	pyLocation string // the Python requester's current_location
	start      time.Time

	mu       sync.Mutex
	seen     map[string][]*core.EventObject // by correlation ID
	problems []string
}

func newGoEchoService(pyLocation string) *goEchoService {
	return &goEchoService{pyLocation: pyLocation, start: time.Now(), seen: map[string][]*core.EventObject{}}
}

func (s *goEchoService) handle(ctx context.Context, ev *core.EventObject) error {
	var p []string
	if ev.CorrelationID == "" {
		p = append(p, "empty correlation ID")
	}
	if ev.Status != core.StatusPending {
		p = append(p, fmt.Sprintf("status %q, want pending", ev.Status))
	}
	if len(ev.AuditLog) != 1 {
		p = append(p, fmt.Sprintf("audit log of %d entries, want 1 (the Python hop)", len(ev.AuditLog)))
	} else {
		a := ev.AuditLog[0]
		if a.Location != s.pyLocation {
			p = append(p, fmt.Sprintf("audit location %q, want the Python current_location %q", a.Location, s.pyLocation))
		}
		if a.Event != echoEvent {
			p = append(p, fmt.Sprintf("audit event %q, want %q", a.Event, echoEvent))
		}
		if d := jsonDiff(ev.Data, a.Data); d != "" {
			p = append(p, "audit data differs from data: "+d)
		}
		if d := checkUnix("time_sent", a.TimeSent, s.start, time.Now()); d != "" {
			p = append(p, d)
		}
		if a.TimeReceived == nil {
			p = append(p, "time_received not set by the Go consumer")
		} else if d := checkUnix("time_received", *a.TimeReceived, s.start, time.Now()); d != "" {
			p = append(p, d)
		}
	}
	s.mu.Lock()
	s.seen[ev.CorrelationID] = append(s.seen[ev.CorrelationID], ev.Clone())
	for _, x := range p {
		s.problems = append(s.problems, ev.CorrelationID+": "+x)
	}
	s.mu.Unlock()
	m, ok := core.FromContext(ctx)
	if !ok {
		return core.Permanent(errors.New("no manager in the handler's context"))
	}
	// ev.Data is a json.RawMessage: echoed byte for byte, big integers included.
	return m.Reply(ctx, ev, map[string]any{"echo": ev.Data, "handled_by": "go"})
}

// checkPythonRequests checks the requests the Go service saw against the
// SENT lines of py_requester.py and against pyRequesterPayload.
func (s *goEchoService) checkPythonRequests(t *testing.T, stdout []string, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.problems {
		t.Errorf("Go handler: %s", p)
	}
	sent := linesWith(stdout, "SENT ")
	if len(sent) != n {
		t.Fatalf("py_requester printed %d SENT lines, want %d", len(sent), n)
	}
	if len(s.seen) != n {
		t.Errorf("Go handler saw %d correlation IDs, want %d", len(s.seen), n)
	}
	for i, line := range sent {
		cid := strings.Fields(line)[1]
		evs := s.seen[cid]
		if len(evs) != 1 {
			t.Errorf("request %s (SENT by Python) reached the Go handler %d times, want once", cid, len(evs))
			continue
		}
		if d := jsonDiff(dataOf(line), evs[0].Data); d != "" {
			t.Errorf("request %s: Go decoded data differs from what Python printed: %s", cid, d)
		}
		want := withFields(t, json.RawMessage(pyRequesterPayload), map[string]any{"seq": i})
		if d := jsonDiff(want, evs[0].Data); d != "" {
			t.Errorf("request %s: data differs from the Python payload: %s", cid, d)
		}
	}
}

// a. A Python service produces with the package and awaits
// consumer_storage.consume(correlation_id); a Go service routes the event and
// answers with Reply (to the Location in the last audit entry).
func TestPythonRequestGoReply(t *testing.T) {
	const n = 5
	pyLoc := kafkatest.Name(t, "py-req")
	svc := newGoEchoService(pyLoc)
	cfg := kafkatest.Config(t, "go-resp")
	// A Python requester names its Location only in the audit log: Go replies
	// there only when it is allow-listed (the README's "Talking to Python services").
	cfg.ReplyTopicAllowList = []string{pyLoc}
	m := startManager(t, cfg, echoRouter(svc.handle))
	goLoc := m.Config().Location

	py := startPython(t, "py_requester", "py_requester.py", goLoc,
		"--location", pyLoc, "--responder-location", goLoc, "--handled-by", "go", "--event", echoEvent,
		"--count", fmt.Sprint(n), "--timeout", fmt.Sprint(requestTimeout.Seconds()),
		"--ready-timeout", fmt.Sprint(readyTimeout.Seconds()))
	code := py.wait(t, processTimeout)
	out := py.stdout.all()

	// Python side: its own checks of every reply (correlation ID and key,
	// status, data with types, both audit hops).
	if code != 0 {
		t.Errorf("py_requester exit code %d, want 0", code)
	}
	if pass := linesWith(out, "PASS: "); len(pass) != 1 || pass[0] != fmt.Sprintf("PASS: %d passed, 0 failed", n) {
		t.Errorf("py_requester result %q, want \"PASS: %d passed, 0 failed\"", linesWith(out, "PASS"), n)
	}
	if oks := linesWith(out, "OK "); len(oks) != n {
		t.Errorf("py_requester printed %d OK lines, want %d", len(oks), n)
	}
	for _, l := range failures(out) {
		t.Errorf("py_requester: %s", l)
	}

	// Go side.
	svc.checkPythonRequests(t, out, n)
	st := m.Stats()
	if st.Replies != n || st.DeadLettered != 0 || st.HandlerErrors != 0 {
		t.Errorf("Go stats: %d replies, %d dead-lettered, %d handler errors; want %d, 0, 0", st.Replies, st.DeadLettered, st.HandlerErrors, n)
	}
}

// a'. A Python request that a Go typed handler refuses: the Python service
// reads the error reply (status "error", data as the package's as_reply
// writes it, plus the fields at fault) from its consumer storage.
func TestPythonRequestGoErrorReply(t *testing.T) {
	const n = 2
	type order struct {
		Customer string `json:"customer" validate:"required"` // not in the Python payload
		Int      int    `json:"int" validate:"max=10"`        // 42 there
	}
	pyLoc := kafkatest.Name(t, "py-req")
	r := core.NewEventRouter("interop")
	core.HandleEvent(r, "echo", func(_ context.Context, in order) (order, error) {
		t.Errorf("the handler ran with invalid data %+v", in)
		return in, nil
	})
	root := core.NewEventRouter("root")
	root.IncludeBinder(r)
	cfg := kafkatest.Config(t, "go-typed")
	cfg.ReplyTopicAllowList = []string{pyLoc}
	m := startManager(t, cfg, root)
	goLoc := m.Config().Location

	py := startPython(t, "py_requester", "py_requester.py", goLoc,
		"--location", pyLoc, "--responder-location", goLoc, "--event", echoEvent, "--expect-error", "422",
		"--count", fmt.Sprint(n), "--timeout", fmt.Sprint(requestTimeout.Seconds()),
		"--ready-timeout", fmt.Sprint(readyTimeout.Seconds()))
	code := py.wait(t, processTimeout)
	out := py.stdout.all()
	if code != 0 {
		t.Errorf("py_requester exit code %d, want 0", code)
	}
	if pass := linesWith(out, "PASS: "); len(pass) != 1 || pass[0] != fmt.Sprintf("PASS: %d passed, 0 failed", n) {
		t.Errorf("py_requester result %q, want \"PASS: %d passed, 0 failed\"", linesWith(out, "PASS"), n)
	}
	oks := linesWith(out, "OK ")
	if len(oks) != n {
		t.Errorf("py_requester printed %d OK lines, want %d", len(oks), n)
	}
	for _, l := range oks {
		if !strings.Contains(l, "status=error") || !strings.Contains(l, `"field":"customer","message":"customer is a required field","tag":"required"`) ||
			!strings.Contains(l, `"field":"int"`) {
			t.Errorf("py_requester read %q, want the error reply with the fields customer and int", l)
		}
	}
	for _, l := range failures(out) {
		t.Errorf("py_requester: %s", l)
	}
	// Go side: each request dead-lettered as invalid.
	for _, rec := range kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, n, time.Minute) {
		if k := kafkatest.Header(rec, core.HeaderDLTErrorKind); k != core.DeadLetterInvalid {
			t.Errorf("dead letter kind %q, want invalid", k)
		}
	}
}

// startResponder runs py_responder.py on a fresh location and waits for READY.
func startResponder(t *testing.T) (*pyProc, string) {
	t.Helper()
	loc := kafkatest.Name(t, "py-resp")
	p := startPython(t, "py_responder", "py_responder.py", "--location", loc,
		"--ready-timeout", fmt.Sprint(readyTimeout.Seconds()))
	return p, loc
}

// checkPythonReply checks a reply from py_responder.py to a Go request.
func checkPythonReply(goLoc, pyLoc string, req *core.EventObject, sent json.RawMessage, rep *core.EventObject, start, end time.Time) []string {
	var p []string
	if rep.CorrelationID != req.CorrelationID {
		return []string{fmt.Sprintf("reply correlation ID %s, want %s (cross-talk)", rep.CorrelationID, req.CorrelationID)}
	}
	if rep.Event != "respond" {
		p = append(p, fmt.Sprintf("event %q, want \"respond\"", rep.Event))
	}
	if rep.Status != core.StatusCompleted {
		p = append(p, fmt.Sprintf("status %q, want completed", rep.Status))
	}
	want := json.RawMessage(fmt.Sprintf(`{"echo": %s, "handled_by": "python"}`, sent))
	if d := jsonDiff(want, rep.Data); d != "" {
		p = append(p, "data: "+d)
	}
	if len(rep.AuditLog) != 2 {
		return append(p, fmt.Sprintf("audit log of %d entries, want 2 (Go hop, Python hop): %+v", len(rep.AuditLog), rep.AuditLog))
	}
	g, py := rep.AuditLog[0], rep.AuditLog[1]
	if g.Location != goLoc || g.Event != echoEvent {
		p = append(p, fmt.Sprintf("audit[0] location %q event %q, want %q %q", g.Location, g.Event, goLoc, echoEvent))
	}
	if d := jsonDiff(sent, g.Data); d != "" {
		p = append(p, "audit[0].data: "+d)
	}
	if py.Location != pyLoc || py.Event != "respond" {
		p = append(p, fmt.Sprintf("audit[1] location %q event %q, want %q \"respond\"", py.Location, py.Event, pyLoc))
	}
	if d := jsonDiff(want, py.Data); d != "" {
		p = append(p, "audit[1].data: "+d)
	}
	for i, a := range rep.AuditLog {
		if d := checkUnix(fmt.Sprintf("audit[%d].time_sent", i), a.TimeSent, start, end); d != "" {
			p = append(p, d)
		}
		who := []string{"the Python consumer", "the Go consumer"}[i]
		if a.TimeReceived == nil {
			p = append(p, fmt.Sprintf("audit[%d].time_received not set by %s", i, who))
		} else if d := checkUnix(fmt.Sprintf("audit[%d].time_received", i), *a.TimeReceived, start, end); d != "" {
			p = append(p, d)
		}
	}
	if g.TimeSent > py.TimeSent {
		p = append(p, fmt.Sprintf("Python hop sent at %d, before the Go hop at %d", py.TimeSent, g.TimeSent))
	}
	return p
}

type sentRequest struct {
	ev   *core.EventObject
	data json.RawMessage
}

// requestConcurrently sends n requests with goPayload(instance, i) from m to
// topic at once and checks each reply; it returns what was sent.
func requestConcurrently(t *testing.T, m *core.Manager, instance, n int, topic string) []sentRequest {
	goLoc := m.Config().Location
	sent := make([]sentRequest, n)
	var wg sync.WaitGroup
	for i := range sent {
		data := goPayload(instance, i)
		ev, err := core.NewEventObject(echoEvent, data)
		if err != nil {
			t.Fatal(err)
		}
		sent[i] = sentRequest{ev, data}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			start := time.Now()
			rep, err := m.Request(ctx, topic, ev)
			if err != nil {
				t.Errorf("instance %d request %d (%s): %v", instance, i, ev.CorrelationID, err)
				return
			}
			for _, p := range checkPythonReply(goLoc, topic, ev, data, rep, start, time.Now()) {
				t.Errorf("instance %d request %d (%s): %s", instance, i, ev.CorrelationID, p)
			}
		}()
	}
	wg.Wait()
	return sent
}

// checkResponderSaw checks py_responder.py handled each request once, found
// nothing wrong in it, replied to replyTo, and decoded the data Go sent.
func checkResponderSaw(t *testing.T, py *pyProc, replyTo string, sent []sentRequest) {
	t.Helper()
	var handled []string
	err := py.waitLines(30*time.Second, fmt.Sprintf("%d HANDLED lines", len(sent)), func(lines []string) bool {
		handled = linesWith(lines, "HANDLED ")
		return len(handled) >= len(sent)
	})
	if err != nil {
		t.Error(err)
	}
	byID := map[string][]string{}
	for _, l := range handled {
		f := strings.Fields(l)
		byID[f[1]] = append(byID[f[1]], l)
	}
	for _, s := range sent {
		ls := byID[s.ev.CorrelationID]
		if len(ls) != 1 {
			t.Errorf("py_responder handled %s %d times, want once", s.ev.CorrelationID, len(ls))
			continue
		}
		if f := strings.Fields(ls[0]); len(f) < 5 || f[2] != echoEvent || f[3] != "->" || f[4] != replyTo {
			t.Errorf("py_responder: %q, want event %s replied to %s", ls[0], echoEvent, replyTo)
		}
		if d := jsonDiff(s.data, dataOf(ls[0])); d != "" {
			t.Errorf("py_responder decoded %s differently: %s", s.ev.CorrelationID, d)
		}
	}
	lines, _ := py.stdout.snapshot()
	for _, l := range linesWith(lines, "INVALID") {
		t.Errorf("py_responder: %s", l)
	}
}

// b. A Go Request is answered by a Python service whose handler sets
// event = "respond" and produces to the Location in the last audit entry.
func TestGoRequestPythonReply(t *testing.T) {
	const n = 8
	py, pyLoc := startResponder(t)
	m := startManager(t, kafkatest.Config(t, "go-req"), nil)
	py.waitReady(t)

	sent := requestConcurrently(t, m, 0, n, pyLoc)
	checkResponderSaw(t, py, m.Config().Location, sent)
	st := m.Stats()
	if st.Requests != n || st.Pending != 0 || st.Timeouts != 0 || st.LateReplies != 0 || st.Forwarded != 0 {
		t.Errorf("Go stats: %+v; want %d requests, none pending, timed out, late or forwarded", st, n)
	}

	// A typed call: the Python reply (status "completed", event "respond")
	// decodes into the caller's type.
	t.Run("typed call", func(t *testing.T) {
		type order struct {
			ID    int      `json:"id"`
			Items []string `json:"items"`
		}
		type echoed struct {
			Echo      order  `json:"echo"`
			HandledBy string `json:"handled_by"`
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		got, rep, err := core.Call[echoed](ctx, m, pyLoc, echoEvent, order{ID: 7, Items: []string{"ünïcode", "b"}})
		if err != nil {
			t.Fatalf("Call to the Python responder: %v", err)
		}
		if got.HandledBy != "python" || got.Echo.ID != 7 || len(got.Echo.Items) != 2 || got.Echo.Items[0] != "ünïcode" {
			t.Errorf("Call decoded %+v", got)
		}
		if rep.Event != "respond" || rep.Status != core.StatusCompleted || rep.RemoteError() != nil {
			t.Errorf("reply envelope: event %q status %q", rep.Event, rep.Status)
		}
	})

	// A Python handler that fails (here: no route) sends no reply: the Go
	// request ends with ErrReplyTimeout, never hangs.
	t.Run("unrouted event times out", func(t *testing.T) {
		ev, _ := core.NewEventObject("interop.missing", map[string]any{"x": 1})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rep, err := m.Request(ctx, pyLoc, ev)
		if !errors.Is(err, core.ErrReplyTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Request of an event Python does not route: %v, %v; want ErrReplyTimeout", rep, err)
		}
		want := "UNHANDLED " + ev.CorrelationID + " interop.missing"
		if err := py.waitLines(60*time.Second, "UNHANDLED line", func(l []string) bool { return len(linesWith(l, want)) == 1 }); err != nil {
			t.Error(err)
		}
	})

	// The scripts' clean stop: SIGTERM, the forked consumer closes and is
	// joined (cleanup checks it is gone).
	if code := py.terminate(t); code != 0 {
		t.Errorf("py_responder exit code %d after SIGTERM, want 0", code)
	}
	// n requests and the typed call.
	if stopped := linesWith(py.stdout.all(), "STOPPED"); len(stopped) != 1 || stopped[0] != fmt.Sprintf("STOPPED handled=%d", n+1) {
		t.Errorf("py_responder printed %q, want \"STOPPED handled=%d\"", stopped, n+1)
	}
	if processAlive(py.consumerPID) {
		t.Errorf("py_responder exited but its forked consumer (pid %d) runs on", py.consumerPID)
	}
}

// c. Three Go requester instances share a Location and a group. The Python
// responder replies to the Location topic, so a reply lands on whichever
// instance owns its partition; one that does not await it forwards it once
// to the shared reply topic, where the requester picks it up.
func TestGoRequestPythonReplyManyInstances(t *testing.T) {
	const instances, perInstance = 3, 10
	py, pyLoc := startResponder(t)
	cfg := kafkatest.Config(t, "go-req")
	ms := make([]*core.Manager, instances)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := core.NewManager(cfg, core.WithLogger(kafkatest.Logger()))
			if err != nil {
				t.Errorf("NewManager: %v", err)
				return
			}
			ms[i] = m
			ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
			defer cancel()
			if err := m.InitConsumer(ctx); err != nil {
				t.Errorf("InitConsumer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, m := range ms {
			if m == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if err := m.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			cancel()
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	py.waitReady(t)

	all := make([][]sentRequest, instances)
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			all[i] = requestConcurrently(t, m, i, perInstance, pyLoc)
		}()
	}
	wg.Wait()
	var sent []sentRequest
	for _, s := range all {
		sent = append(sent, s...)
	}
	checkResponderSaw(t, py, cfg.Location, sent)

	var forwarded, consumed uint64
	for i, m := range ms {
		st := m.Stats()
		t.Logf("instance %d: requests %d, consumed on %s %d, forwarded %d", i, st.Requests, cfg.Location, st.Consumed, st.Forwarded)
		forwarded += st.Forwarded
		consumed += st.Consumed
		if st.Requests != perInstance || st.Pending != 0 || st.Timeouts != 0 || st.LateReplies != 0 {
			t.Errorf("instance %d stats: %+v; want %d requests, none pending, timed out or late", i, st, perInstance)
		}
	}
	total := uint64(instances * perInstance)
	if consumed < total {
		t.Errorf("the instances consumed %d records of %s, want at least the %d Python replies", consumed, cfg.Location, total)
	}
	if forwarded == 0 || forwarded > consumed {
		t.Errorf("forwarded %d replies in all, want 1..%d: forwarding between instances was not exercised", forwarded, consumed)
	}
}

// d. A record the Python package produces without complaint but that is not
// JSON (float("nan") is encoded as NaN) is dead-lettered by Go, and the Go
// consumer goes on with the next records of the same partition.
func TestPythonPoisonIsDeadLettered(t *testing.T) {
	const n = 3
	pyLoc := kafkatest.Name(t, "py-req")
	svc := newGoEchoService(pyLoc)
	cfg := kafkatest.Config(t, "go-resp")
	cfg.TopicPartitions = 1 // poison and requests on one partition, in this order
	cfg.ReplyTopicAllowList = []string{pyLoc}
	m := startManager(t, cfg, echoRouter(svc.handle))

	py := startPython(t, "py_requester", "py_requester.py", cfg.Location,
		"--location", pyLoc, "--handled-by", "go", "--event", echoEvent, "--poison", "nan",
		"--count", fmt.Sprint(n), "--timeout", fmt.Sprint(requestTimeout.Seconds()),
		"--ready-timeout", fmt.Sprint(readyTimeout.Seconds()))
	code := py.wait(t, processTimeout)
	out := py.stdout.all()
	if code != 0 || len(linesWith(out, fmt.Sprintf("PASS: %d passed, 0 failed", n))) != 1 {
		t.Errorf("py_requester exit code %d, result %q; want 0 and PASS after the poison record", code, linesWith(out, "PASS"))
	}
	poison := linesWith(out, "POISON ")
	if len(poison) != 1 {
		t.Fatalf("py_requester printed %q, want one POISON line", poison)
	}
	poisonID := strings.Fields(poison[0])[1]
	svc.checkPythonRequests(t, out, n)

	st := m.Stats()
	if st.DeadLettered != 1 || st.Malformed[core.MalformedNotJSON] != 1 {
		t.Errorf("Go stats: %d dead-lettered, malformed %v; want 1 not_json", st.DeadLettered, st.Malformed)
	}
	dlq := kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, 1, 60*time.Second)[0]
	if string(dlq.Key) != poisonID || kafkatest.Header(dlq, core.HeaderDLTErrorKind) != core.MalformedNotJSON ||
		kafkatest.Header(dlq, core.HeaderDLTOriginalTopic) != cfg.Location || !strings.Contains(string(dlq.Value), "NaN") {
		t.Errorf("dead letter: key %q kind %q topic %q value %s; want key %s, not_json from %s, the NaN record",
			dlq.Key, kafkatest.Header(dlq, core.HeaderDLTErrorKind), kafkatest.Header(dlq, core.HeaderDLTOriginalTopic), dlq.Value, poisonID, cfg.Location)
	}
	// The requests came after the poison record on the same partition.
	poisonOffset, err := strconv.ParseInt(kafkatest.Header(dlq, core.HeaderDLTOriginalOffset), 10, 64)
	if err != nil || kafkatest.Header(dlq, core.HeaderDLTOriginalPartition) != "0" {
		t.Fatalf("dead letter original partition %q offset %q, want partition 0",
			kafkatest.Header(dlq, core.HeaderDLTOriginalPartition), kafkatest.Header(dlq, core.HeaderDLTOriginalOffset))
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	for id, evs := range svc.seen {
		if _, part, off, ok := evs[0].Source(); !ok || part != 0 || off <= poisonOffset {
			t.Errorf("request %s read from partition %d offset %d; want partition 0 after the poison at offset %d", id, part, off, poisonOffset)
		}
	}
}

// TestPythonRequesterNotAllowListed: a Python requester names its Location
// only in the audit log, which anyone writing to the topic controls. A Go
// responder whose ReplyTopicAllowList does not name it refuses to reply
// there (the request is dead-lettered with kind reply_refused, saying what to
// configure) and the Python side times out: the secure default.
func TestPythonRequesterNotAllowListed(t *testing.T) {
	pyLoc := kafkatest.Name(t, "py-req")
	svc := newGoEchoService(pyLoc)
	cfg := kafkatest.Config(t, "go-resp")
	cfg.MaxAttempts = 1
	m := startManager(t, cfg, echoRouter(svc.handle))

	py := startPython(t, "py_requester", "py_requester.py", cfg.Location,
		"--location", pyLoc, "--handled-by", "go", "--event", echoEvent,
		"--count", "1", "--timeout", "5", "--ready-timeout", fmt.Sprint(readyTimeout.Seconds()))
	code := py.wait(t, processTimeout)
	out := py.stdout.all()
	if code == 0 || len(linesWith(out, "FAIL: 0 passed, 1 failed")) != 1 {
		t.Errorf("py_requester exit code %d, result %q; want a failure: no reply", code, linesWith(out, "FAIL"))
	}
	dlq := kafkatest.ReadTopic(t, m.Config().DeadLetterTopic, 1, 60*time.Second)[0]
	if kind, msg := kafkatest.Header(dlq, core.HeaderDLTErrorKind), kafkatest.Header(dlq, core.HeaderDLTError); kind != core.DeadLetterReplyRefused ||
		!strings.Contains(msg, "ReplyTopicAllowList") || !strings.Contains(msg, pyLoc) {
		t.Errorf("dead letter kind %q error %q; want reply_refused naming %s and ReplyTopicAllowList", kind, msg, pyLoc)
	}
	if st := m.Stats(); st.RepliesRefused != 1 || st.Replies != 0 {
		t.Errorf("Go stats: %d replies refused, %d sent; want 1, 0", st.RepliesRefused, st.Replies)
	}
}
