package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// maxTableError bounds the error shown in a table row.
const maxTableError = 72

// deadLetterTable prints dead letters as an aligned table.
type deadLetterTable struct {
	tw *tabwriter.Writer
}

func newDeadLetterTable(w io.Writer) *deadLetterTable {
	t := &deadLetterTable{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	fmt.Fprintln(t.tw, "POSITION\tDEAD-LETTERED\tKIND\tEVENT\tCORRELATION ID\tTRIES\tREDRIVE\tERROR")
	return t
}

func (t *deadLetterTable) add(dl *core.DeadLetter) {
	fmt.Fprintf(t.tw, "%d/%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n",
		dl.Partition, dl.Offset, localTime(dl.Timestamp), orDash(dl.Kind), orDash(dl.EventName()),
		orDash(oneLine(dl.CorrelationID, 40)), dl.Attempts, redriveState(dl), oneLine(dl.Error, maxTableError))
}

func (t *deadLetterTable) flush() error { return t.tw.Flush() }

func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// oneLine is s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// redriveState says in a word or two what a redrive would do with dl.
func redriveState(dl *core.DeadLetter) string {
	switch dl.Refusal {
	case "":
		if dl.RedriveCount > 0 {
			return fmt.Sprintf("ok (%s before)", plural(dl.RedriveCount, "redrive"))
		}
		return "ok"
	case core.RefusedAlreadyRedriven:
		if dl.Redriven != nil && dl.Redriven.Times > 1 {
			return fmt.Sprintf("redriven ×%d", dl.Redriven.Times)
		}
		return "redriven"
	case core.RefusedCut:
		if dl.ValueDropped != "" {
			return "cut: value dropped"
		}
		var parts []string
		for _, c := range dl.Truncated {
			if c == "key" || c == "value" {
				parts = append(parts, c)
			}
		}
		return "cut: " + strings.Join(parts, ",")
	case core.RefusedHeadersCut:
		return "headers cut (--force)"
	case core.RefusedUndecodable:
		return "undecodable (--force)"
	case core.RefusedUnsolicitedReply:
		return "unsolicited reply (--force)"
	case core.RefusedMaxRedrives:
		return fmt.Sprintf("max redrives (%d)", dl.RedriveCount)
	case core.RefusedMaxHops:
		return "max hops"
	}
	return dl.Refusal
}

// showDeadLetter renders one dead letter in full for people.
func showDeadLetter(dl *core.DeadLetter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dead letter %s %d/%d\n", dl.Topic, dl.Partition, dl.Offset)
	row := func(k, v string) {
		if v != "" {
			v = strings.ReplaceAll(strings.TrimRight(v, "\n"), "\n", "\n"+strings.Repeat(" ", 17))
			fmt.Fprintf(&b, "  %-15s%s\n", k, v)
		}
	}
	if !dl.Timestamp.IsZero() {
		row("dead-lettered", dl.Timestamp.Local().Format("2006-01-02 15:04:05.000 -0700"))
	}
	row("kind", orDash(dl.Kind))
	row("error", orDash(dl.Error))
	if len(dl.InvalidFields) > 0 {
		row("invalid fields", string(dl.InvalidFields))
	}
	orig := orDash(dl.OriginalTopic)
	if dl.OriginalPartition >= 0 {
		orig += fmt.Sprintf(" %d/%d", dl.OriginalPartition, dl.OriginalOffset)
	}
	row("original", fmt.Sprintf("%s, %s", orig, plural(dl.Attempts, "attempt")))
	if len(dl.Truncated) > 0 {
		cut := strings.Join(dl.Truncated, ", ")
		if dl.OriginalSize > 0 {
			cut += fmt.Sprintf(" (the original record had %d bytes)", dl.OriginalSize)
		}
		row("cut", cut)
	}
	row("value dropped", dl.ValueDropped)
	if dl.RedriveCount > 0 {
		row("redriven before", fmt.Sprintf("%s, last from %s", plural(dl.RedriveCount, "time"), orDash(dl.RedriveSource)))
	}
	switch {
	case dl.Redriven != nil:
		row("redrive", fmt.Sprintf("redriven to %s at %s (%s)%s", dl.Redriven.To,
			dl.Redriven.At.Local().Format("2006-01-02 15:04:05"), plural(dl.Redriven.Times, "time"), forcedNote(dl.Redriven.Forced)))
	case dl.Refusal == "":
		row("redrive", "ok: a redrive sends it to "+orDash(dl.OriginalTopic))
	default:
		row("redrive", "refused ("+dl.Refusal+"): "+dl.RefusalDetail)
	}
	row("key", quoteIfBinary(dl.Key))
	if ev := dl.Event; ev != nil {
		fmt.Fprintf(&b, "Event\n")
		row("event", ev.Event)
		row("status", ev.Status)
		row("correlation id", ev.CorrelationID)
		row("data", indentJSON(ev.Data))
		for i, a := range ev.AuditLog {
			label := ""
			if i == 0 {
				label = "trail"
			}
			hop := fmt.Sprintf("%d. %s sent %s", i+1, orDash(a.Location), time.Unix(a.TimeSent, 0).Local().Format("2006-01-02 15:04:05"))
			if a.TimeReceived != nil {
				hop += ", received " + time.Unix(*a.TimeReceived, 0).Local().Format("15:04:05")
			}
			fmt.Fprintf(&b, "  %-15s%s\n", label, hop)
		}
	} else {
		fmt.Fprintf(&b, "Value (not an event: %s)\n", dl.DecodeError)
		v := dl.RawValue
		if utf8.RuneCountInString(v) > 2000 {
			v = string([]rune(v)[:2000]) + "…"
		}
		fmt.Fprintf(&b, "  %s\n", quoteIfBinary(v))
	}
	if len(dl.Headers) > 0 {
		fmt.Fprintf(&b, "Headers\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, h := range dl.Headers {
			fmt.Fprintf(tw, "  %s\t%s\n", h.Key, oneLine(quoteIfBinary(h.Value), 400))
		}
		tw.Flush()
	}
	return b.String()
}

func forcedNote(forced bool) string {
	if forced {
		return ", forced"
	}
	return ""
}

// quoteIfBinary returns s, or s quoted when it is not printable UTF-8.
func quoteIfBinary(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' && r != '\n' }) {
		return strconv.Quote(s)
	}
	return s
}

func indentJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// outcomeLine renders what a redrive did with one dead letter.
func outcomeLine(o core.RedriveOutcome) string {
	dl := o.DeadLetter
	status := string(o.Status)
	if o.Status == core.RedriveWouldRedrive {
		status = "would redrive"
	}
	line := fmt.Sprintf("%-13s %-7s %-12s %-24s %s", status, fmt.Sprintf("%d/%d", dl.Partition, dl.Offset),
		orDash(dl.Kind), orDash(dl.EventName()), orDash(dl.CorrelationID))
	switch o.Status {
	case core.RedriveRedriven, core.RedriveWouldRedrive:
		line += " → " + o.To + forcedNote(o.Forced)
	case core.RedriveRefused:
		line += "  " + o.Reason + ": " + o.Detail
	case core.RedriveFailed:
		line += " → " + o.To + ": " + o.Err.Error()
	}
	return line
}

// outcomeRecord is the JSON line of one outcome.
type outcomeRecord struct {
	Type          string `json:"type"` // "entry"
	Status        string `json:"status"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Offset        int64  `json:"offset"`
	Kind          string `json:"kind"`
	Event         string `json:"event,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	To            string `json:"to,omitempty"`
	Forced        bool   `json:"forced,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Detail        string `json:"detail,omitempty"`
	Error         string `json:"error,omitempty"`
}

func outcomeJSON(o core.RedriveOutcome) outcomeRecord {
	dl := o.DeadLetter
	r := outcomeRecord{Type: "entry", Status: string(o.Status), Topic: dl.Topic, Partition: dl.Partition, Offset: dl.Offset,
		Kind: dl.Kind, Event: dl.EventName(), CorrelationID: dl.CorrelationID, To: o.To, Forced: o.Forced,
		Reason: o.Reason, Detail: o.Detail}
	if o.Err != nil {
		r.Error = o.Err.Error()
	}
	return r
}

// summaryJSON is the last JSON line of a redrive.
func summaryJSON(res *core.RedriveResult) any {
	return struct {
		Type string `json:"type"` // "summary"
		*core.RedriveResult
	}{"summary", res}
}

// summaryText sums a redrive up for people.
func summaryText(res *core.RedriveResult) string {
	var b strings.Builder
	done := fmt.Sprintf("%d redriven", res.Redriven)
	if res.DryRun {
		done = fmt.Sprintf("dry run: %d would be redriven", res.WouldRedrive)
	}
	fmt.Fprintf(&b, "%s: %s, %d skipped, %d refused, %d failed (%s read", res.Topic, done, res.Skipped, res.Refused, res.Failed, plural(res.Read, "dead letter"))
	if res.Resumed {
		b.WriteString(", from where the last run of this job stopped; --restart reads from the start")
	}
	b.WriteString(")\n")
	kinds := make([]string, 0, len(res.ByKind))
	for k := range res.ByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		c := res.ByKind[k]
		var ps []string
		for _, x := range []struct {
			n    int
			what string
		}{{c.Redriven, "redriven"}, {c.WouldRedrive, "would be redriven"}, {c.Refused, "refused"}, {c.Failed, "failed"}} {
			if x.n > 0 {
				ps = append(ps, fmt.Sprintf("%d %s", x.n, x.what))
			}
		}
		if len(ps) > 0 {
			parts = append(parts, k+" "+strings.Join(ps, ", "))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "  by kind: %s\n", strings.Join(parts, "; "))
	}
	if len(res.Refusals) > 0 {
		reasons := make([]string, 0, len(res.Refusals))
		for r, n := range res.Refusals {
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		slices.Sort(reasons)
		fmt.Fprintf(&b, "  refused: %s\n", strings.Join(reasons, ", "))
	}
	if res.DryRun {
		b.WriteString("  nothing was written\n")
	}
	if res.Interrupted {
		b.WriteString("  interrupted: run the same command again to resume\n")
	}
	return b.String()
}
