package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// printer writes events one per line: the wire JSON, or a line for people.
type printer struct {
	w     io.Writer
	human bool
}

// maxHumanData bounds the data shown on a human line.
const maxHumanData = 200

// print writes ev. where says where it is ("orders/2@17", "→ orders") and at
// is the record's time; both are shown on human lines only.
func (p printer) print(ev *core.EventObject, where string, at time.Time) error {
	if !p.human {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(p.w, humanLine(ev, where, at))
	return err
}

// humanLine renders an event on one line:
//
//	15:04:05.000 orders/2@17 order.created pending id=6f1c… data={"id":1} trail: gateway 15:04:05 → worker 15:04:06
func humanLine(ev *core.EventObject, where string, at time.Time) string {
	var b strings.Builder
	if !at.IsZero() {
		b.WriteString(at.Local().Format("15:04:05.000 "))
	}
	fmt.Fprintf(&b, "%s %s %s id=%s data=%s", where, ev.Event, ev.Status, ev.CorrelationID, compactData(ev.Data))
	if len(ev.AuditLog) > 0 {
		b.WriteString(" trail:")
		for i, a := range ev.AuditLog {
			if i > 0 {
				b.WriteString(" →")
			}
			fmt.Fprintf(&b, " %s %s", orDash(a.Location), time.Unix(a.TimeSent, 0).Local().Format("15:04:05"))
			if a.TimeReceived != nil {
				fmt.Fprintf(&b, " (received %s)", time.Unix(*a.TimeReceived, 0).Local().Format("15:04:05"))
			}
		}
	}
	return b.String()
}

func compactData(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	s := buf.String()
	if r := []rune(s); len(r) > maxHumanData {
		s = string(r[:maxHumanData]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
