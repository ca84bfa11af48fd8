package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// sample dead letters, one of each state the table shows.
func sampleDeadLetters() []*core.DeadLetter {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ev := &core.EventObject{CorrelationID: "id-ok", Status: "pending", Event: "order.created", Data: json.RawMessage(`{"id":1}`),
		AuditLog: []core.AuditEntry{{Location: "api", TimeSent: at.Unix()}}}
	return []*core.DeadLetter{
		{Topic: "orders.dlq", Partition: 0, Offset: 7, Timestamp: at, Key: "id-ok", CorrelationID: "id-ok", Kind: "handler",
			Error: "payment service says:\nbroken", Attempts: 3, OriginalTopic: "orders", OriginalPartition: 1, OriginalOffset: 42, Event: ev,
			Headers: []core.DeadLetterHeader{{Key: "kafka_replyPartition", Value: "\x00\x00\x00\x02"}, {Key: core.HeaderDLTErrorKind, Value: "handler"}}},
		{Partition: 0, Offset: 8, Timestamp: at, CorrelationID: "id-again", Kind: "handler", Event: ev, Refusal: core.RefusedAlreadyRedriven,
			Redriven: &core.RedriveRecord{Times: 2, To: "orders", At: at}},
		{Partition: 1, Offset: 0, Timestamp: at, CorrelationID: "id-cut", Kind: "handler", Truncated: []string{"error", "value"},
			OriginalSize: 5000, DecodeError: "not JSON", RawValue: `{"pad":"xx`, Refusal: core.RefusedCut, RefusalDetail: "cut"},
		{Partition: 1, Offset: 1, Timestamp: at, Key: "junk", CorrelationID: "junk", Kind: core.MalformedNotJSON,
			Error: strings.Repeat("e", 200), DecodeError: "not JSON", RawValue: "{x", Refusal: core.RefusedUndecodable},
		{Partition: 1, Offset: 2, Timestamp: at, CorrelationID: "id-max", Kind: "no_route", Event: ev, RedriveCount: 3, Refusal: core.RefusedMaxRedrives},
	}
}

func TestDeadLetterTable(t *testing.T) {
	var b bytes.Buffer
	table := newDeadLetterTable(&b)
	for _, dl := range sampleDeadLetters() {
		table.add(dl)
	}
	if err := table.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want a header and 5 rows:\n%s", len(lines), b.String())
	}
	// Columns are aligned: every row has its REDRIVE column where the header has it.
	col := strings.Index(lines[0], "REDRIVE")
	want := []string{"ok", "redriven ×2", "cut: value", "undecodable (--force)", "max redrives (3)"}
	for i, w := range want {
		row := lines[i+1]
		if !strings.HasPrefix(row[col:], w) {
			t.Errorf("row %d: REDRIVE column %q, want %q", i, row[col:], w)
		}
	}
	for _, w := range []string{"0/7", localTime(sampleDeadLetters()[0].Timestamp), "order.created", "payment service says: broken", "1/1  "} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
	if !strings.Contains(lines[4], strings.Repeat("e", maxTableError-1)+"…") || strings.Contains(lines[4], strings.Repeat("e", maxTableError)) {
		t.Errorf("a long error is not cut to %d runes: %q", maxTableError, lines[4])
	}
	if f := strings.Fields(lines[3]); f[4] != "-" {
		t.Errorf("a dead letter without an event shows no dash: %q", lines[3])
	}
}

func TestDeadLetterJSON(t *testing.T) {
	var b bytes.Buffer
	for _, dl := range sampleDeadLetters()[:3] {
		if err := writeJSONLine(&b, dl); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["topic"] != "orders.dlq" || first["offset"] != float64(7) || first["kind"] != "handler" ||
		first["original_topic"] != "orders" || first["original_offset"] != float64(42) || first["attempts"] != float64(3) ||
		first["event"].(map[string]any)["data"].(map[string]any)["id"] != float64(1) ||
		len(first["headers"].([]any)) != 2 || first["refusal"] != nil {
		t.Errorf("JSON of a dead letter: %s", lines[0])
	}
	var cut map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &cut); err != nil {
		t.Fatal(err)
	}
	if cut["refusal"] != core.RefusedCut || cut["raw_value"] != `{"pad":"xx` || cut["event"] != nil || cut["original_size"] != float64(5000) {
		t.Errorf("JSON of a cut dead letter: %s", lines[2])
	}
}

func TestShowDeadLetter(t *testing.T) {
	dls := sampleDeadLetters()
	s := showDeadLetter(dls[0])
	for _, w := range []string{
		"Dead letter orders.dlq 0/7", "kind           handler", "orders 1/42, 3 attempts", "redrive        ok: a redrive sends it to orders",
		"event          order.created", `"id": 1`, "1. api sent", `"\x00\x00\x00\x02"`,
		"error          payment service says:\n                 broken",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("show lacks %q:\n%s", w, s)
		}
	}
	s = showDeadLetter(dls[2])
	for _, w := range []string{"cut            error, value (the original record had 5000 bytes)", "refused (cut): cut", "Value (not an event: not JSON)", `{"pad":"xx`} {
		if !strings.Contains(s, w) {
			t.Errorf("show of a cut dead letter lacks %q:\n%s", w, s)
		}
	}
	if s := showDeadLetter(dls[1]); !strings.Contains(s, "redriven to orders at") || !strings.Contains(s, "(2 times)") {
		t.Errorf("show of a redriven dead letter:\n%s", s)
	}
}

func TestRedriveOutput(t *testing.T) {
	dls := sampleDeadLetters()
	tests := []struct {
		o    core.RedriveOutcome
		want string
	}{
		{core.RedriveOutcome{DeadLetter: dls[0], Status: core.RedriveRedriven, To: "orders"}, "redriven      0/7     handler      order.created            id-ok → orders"},
		{core.RedriveOutcome{DeadLetter: dls[0], Status: core.RedriveWouldRedrive, To: "orders", Forced: true}, "would redrive 0/7"},
		{core.RedriveOutcome{DeadLetter: dls[3], Status: core.RedriveRefused, Reason: core.RefusedUndecodable, Detail: "not an event"}, "refused       1/1     not_json     -                        junk  undecodable: not an event"},
		{core.RedriveOutcome{DeadLetter: dls[0], Status: core.RedriveFailed, To: "gone", Err: errors.New("topic does not exist")}, "→ gone: topic does not exist"},
	}
	for _, tt := range tests {
		if got := outcomeLine(tt.o); !strings.HasPrefix(got, tt.want) && !strings.Contains(got, tt.want) {
			t.Errorf("outcomeLine = %q, want %q", got, tt.want)
		}
	}
	if got := outcomeLine(tests[1].o); !strings.HasSuffix(got, "→ orders, forced") {
		t.Errorf("a forced redrive does not say so: %q", got)
	}
	b, _ := json.Marshal(outcomeJSON(tests[3].o))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["type"] != "entry" || m["status"] != "failed" || m["error"] != "topic does not exist" || m["to"] != "gone" || m["correlation_id"] != "id-ok" {
		t.Errorf("outcome JSON: %s", b)
	}

	res := &core.RedriveResult{Topic: "orders.dlq", Read: 9, Skipped: 2, Redriven: 4, Refused: 2, Failed: 1, Resumed: true,
		ByKind:   map[string]*core.RedriveCounts{"handler": {Redriven: 4, Failed: 1}, "not_json": {Refused: 2}},
		Refusals: map[string]int{core.RefusedUndecodable: 1, core.RefusedCut: 1}}
	text := summaryText(res)
	for _, w := range []string{
		"orders.dlq: 4 redriven, 2 skipped, 2 refused, 1 failed (9 dead letters read, from where the last run of this job stopped",
		"by kind: handler 4 redriven, 1 failed; not_json 2 refused", "refused: cut 1, undecodable 1",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("summary lacks %q:\n%s", w, text)
		}
	}
	res.DryRun, res.WouldRedrive, res.Redriven = true, 4, 0
	if text := summaryText(res); !strings.Contains(text, "dry run: 4 would be redriven") || !strings.Contains(text, "nothing was written") {
		t.Errorf("dry-run summary:\n%s", text)
	}
	b, _ = json.Marshal(summaryJSON(res))
	m = nil
	_ = json.Unmarshal(b, &m)
	if m["type"] != "summary" || m["read"] != float64(9) || m["by_kind"].(map[string]any)["not_json"].(map[string]any)["refused"] != float64(2) {
		t.Errorf("summary JSON: %s", b)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2026-11-30T08:00:00Z", time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)},
		{"2026-11-30T08:00:00+02:00", time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)},
		{"2026-11-30 08:00", time.Date(2026, 11, 30, 8, 0, 0, 0, time.Local)},
		{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		got, err := parseWhen(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2026-13-01", "1x"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}

func TestParsePosition(t *testing.T) {
	for _, tt := range []struct {
		in string
		p  int32
		o  int64
	}{{"0/17", 0, 17}, {"2/0", 2, 0}, {"17", -1, 17}} {
		p, o, err := parsePosition(tt.in)
		if err != nil || p != tt.p || o != tt.o {
			t.Errorf("parsePosition(%q) = %d, %d, %v", tt.in, p, o, err)
		}
	}
	for _, bad := range []string{"", "/", "a/1", "1/a", "-1/0", "0/-1", "1/2/3"} {
		if _, _, err := parsePosition(bad); err == nil {
			t.Errorf("parsePosition(%q) accepted", bad)
		}
	}
}

// Lines printed while the spinner runs go above it: the spinner's line is
// cleared first and drawn again at the next tick.
func TestProgressPrintln(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, "redriving orders.dlq")
		synctest.Wait()
		p.Println(&buf, "redriven 0/1")
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		p.Stop()
		want := "⠋ redriving orders.dlq (0.0s)" + clearLine + "redriven 0/1\n" + clearLine + "⠙ redriving orders.dlq (0.1s)" + clearLine
		if !strings.HasSuffix(buf.String(), want) {
			t.Errorf("output %q, want it to end with %q", buf.String(), want)
		}
	})
	var b bytes.Buffer
	var nilProgress *progress
	nilProgress.Println(&b, "a line")
	if b.String() != "a line\n" {
		t.Errorf("without a terminal: %q", b.String())
	}
}
