package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The sides of a comparison: the library, the hand-written confluent-kafka-go
// baseline with the library's structure (raw.go), and hand-written franz-go
// code with the fastest sensible structure (franz.go), the limit on this
// machine. Their keys name the sides in the JSON report and the charts.
const (
	sideLib   = "library"
	sideRaw   = "raw"
	sideFranz = "franz-go"
)

// allSides in the order each round runs them.
var allSides = []string{sideLib, sideRaw, sideFranz}

// metric is one measured quantity of a scenario, one value per round for
// each side measured. Rounds run the sides one after another (library, raw,
// franz-go, library, ...), so slow phases of a noisy machine hit all of them;
// a ratio is the median of the per-round ratios.
type metric struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"metric"`
	Unit     string    `json:"unit"`
	Lib      []float64 `json:"library,omitempty"`
	Raw      []float64 `json:"raw,omitempty"`
	Franz    []float64 `json:"franz-go,omitempty"`
	Targets  []target  `json:"targets,omitempty"`
	Note     string    `json:"note,omitempty"`
	// InFlight is the requests in flight of a point of the in-flight chart.
	InFlight int `json:"in_flight,omitempty"`

	LibMedian   float64 `json:"library_median,omitempty"`
	RawMedian   float64 `json:"raw_median,omitempty"`
	FranzMedian float64 `json:"franz-go_median,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`          // library / raw
	RatioFranz  float64 `json:"ratio_franz-go,omitempty"` // library / franz-go
	Met         *bool   `json:"met,omitempty"`            // every target met
}

// target is a bound on a metric: on the library's median ("lib") or on the
// median ratio of the library to another side ("lib/raw", "lib/franz-go").
type target struct {
	Of    string  `json:"of"`
	Op    string  `json:"op"` // "<=" or ">="
	Bound float64 `json:"bound"`
	Met   bool    `json:"met"`
}

func newMetric(scenario, name, unit string) *metric {
	return &metric{Scenario: scenario, Name: name, Unit: unit}
}

// want adds a target; of is "lib", "lib/raw" or "lib/franz-go".
func (m *metric) want(of, op string, bound float64) *metric {
	m.Targets = append(m.Targets, target{Of: of, Op: op, Bound: bound})
	return m
}

func (m *metric) values(side string) *[]float64 {
	switch side {
	case sideLib:
		return &m.Lib
	case sideRaw:
		return &m.Raw
	case sideFranz:
		return &m.Franz
	}
	panic("unknown side " + side)
}

func (m *metric) add(side string, v float64) {
	vs := m.values(side)
	*vs = append(*vs, v)
}

func (m *metric) addNote(note string) {
	if m.Note != "" {
		m.Note += "; "
	}
	m.Note += note
}

func (m *metric) empty() bool { return len(m.Lib)+len(m.Raw)+len(m.Franz) == 0 }

func (m *metric) finish() {
	m.LibMedian, m.RawMedian, m.FranzMedian = median(m.Lib), median(m.Raw), median(m.Franz)
	m.Ratio, m.RatioFranz = ratio(m.Lib, m.Raw), ratio(m.Lib, m.Franz)
	if len(m.Targets) == 0 {
		return
	}
	all := true
	for i := range m.Targets {
		t := &m.Targets[i]
		v := m.LibMedian
		switch t.Of {
		case "lib/raw":
			v = m.Ratio
		case "lib/franz-go":
			v = m.RatioFranz
		}
		measured := v != 0 || t.Of == "lib" && len(m.Lib) > 0
		t.Met = measured && (t.Op == "<=" && v <= t.Bound || t.Op == ">=" && v >= t.Bound)
		all = all && t.Met
	}
	m.Met = &all
}

// median of v, 0 when v is empty (so the JSON stays valid and omits it).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is the median of the per-round ratios a/b, 0 without pairs.
func ratio(a, b []float64) float64 {
	var rs []float64
	for i := range a {
		if i < len(b) && b[i] != 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	return median(rs)
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type report struct {
	Machine machine   `json:"machine"`
	Flags   string    `json:"flags"`
	Metrics []*metric `json:"metrics"`
	Soak    *soakRun  `json:"soak,omitempty"`
	Notes   []string  `json:"notes,omitempty"`
	Elapsed string    `json:"elapsed"`
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	r.Machine.writeHeader(w)
	fmt.Fprintf(w, "flags:      %s   elapsed %s\n\n", r.Flags, r.Elapsed)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmetric\tlibrary\traw\tfranz-go\tlib/raw\tlib/franz\ttarget\t")
	for _, x := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", x.Scenario, x.Name+" ("+x.Unit+")",
			cell(x.Lib, x.LibMedian), cell(x.Raw, x.RawMedian), cell(x.Franz, x.FranzMedian),
			ratioCell(x.Ratio), ratioCell(x.RatioFranz), targetsCell(x.Targets))
	}
	_ = tw.Flush()
	var notes []string
	for _, x := range r.Metrics {
		if x.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s %s: %s", x.Scenario, x.Name, x.Note))
		}
	}
	for _, n := range r.Notes {
		notes = append(notes, "  "+n)
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n%s\n", strings.Join(notes, "\n"))
	}
	if r.Soak != nil {
		fmt.Fprintf(w, "\nsoak: heap in use after GC every %s (MiB): %s\n", r.Soak.Every, r.Soak.samplesMiB())
	}
	fmt.Fprintln(w, "\nmedians over rounds; a ratio is the median of the per-round ratios")
}

func cell(vs []float64, med float64) string {
	if len(vs) == 0 {
		return "-"
	}
	return num(med)
}

func ratioCell(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

func targetsCell(ts []target) string {
	var out []string
	for _, t := range ts {
		verdict := "MISSED"
		if t.Met {
			verdict = "met"
		}
		bound := fmt.Sprintf("%.2fx", t.Bound)
		if t.Of == "lib" {
			bound = num(t.Bound)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", t.Of, t.Op, bound, verdict))
	}
	return strings.Join(out, "; ")
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
