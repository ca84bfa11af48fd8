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

// metric is one measured quantity of a scenario, for the library and the raw
// baseline, one value per round. Rounds alternate library, raw, library, raw,
// so slow phases of a noisy machine hit both sides; the ratio is the median
// of the per-round ratios.
type metric struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"metric"`
	Unit     string    `json:"unit"`
	Lib      []float64 `json:"library"`
	Raw      []float64 `json:"raw"`
	// Target: "ratio<=" or "ratio>=" against Bound, or "lib<=" for an
	// absolute bound on the library; "" when there is none.
	Target string  `json:"target,omitempty"`
	Bound  float64 `json:"bound,omitempty"`
	Note   string  `json:"note,omitempty"`
	// InFlight is the requests in flight of a point of the in-flight chart.
	InFlight int `json:"in_flight,omitempty"`

	LibMedian float64 `json:"library_median"`
	RawMedian float64 `json:"raw_median"`
	Ratio     float64 `json:"ratio"`
	Met       *bool   `json:"met,omitempty"`
}

func (m *metric) add(lib, raw float64) {
	m.Lib = append(m.Lib, lib)
	m.Raw = append(m.Raw, raw)
}

func (m *metric) finish() {
	m.LibMedian, m.RawMedian = median(m.Lib), median(m.Raw)
	var ratios []float64
	for i := range m.Lib {
		if i < len(m.Raw) && m.Raw[i] != 0 {
			ratios = append(ratios, m.Lib[i]/m.Raw[i])
		}
	}
	m.Ratio = median(ratios)
	var met bool
	switch m.Target {
	case "ratio<=":
		met = m.Ratio <= m.Bound
	case "ratio>=":
		met = m.Ratio >= m.Bound
	case "lib<=":
		met = m.LibMedian <= m.Bound
	default:
		return
	}
	m.Met = &met
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
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
	Elapsed string    `json:"elapsed"`
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine:    %s, %d cores (GOMAXPROCS %d)\n", m.CPU, m.Cores, m.GOMAXPROCS)
	fmt.Fprintf(w, "go:         %s   librdkafka: %s\n", m.Go, m.Librdkafka)
	fmt.Fprintf(w, "broker:     %s\n", m.Broker)
	fmt.Fprintf(w, "load avg:   %s (start)  %s (end)\n", m.LoadStart, m.LoadEnd)
	if m.Kafka != "" {
		fmt.Fprintf(w, "overrides:  %s (both sides)\n", m.Kafka)
	}
	fmt.Fprintf(w, "flags:      %s   elapsed %s\n\n", r.Flags, r.Elapsed)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmetric\tlibrary\traw\tratio\ttarget\t\t")
	for _, x := range r.Metrics {
		target, met := "", ""
		switch x.Target {
		case "ratio<=":
			target = fmt.Sprintf("<= %.2fx", x.Bound)
		case "ratio>=":
			target = fmt.Sprintf(">= %.2fx", x.Bound)
		case "lib<=":
			target = fmt.Sprintf("lib <= %s", num(x.Bound))
		}
		if x.Met != nil {
			met = "MISSED"
			if *x.Met {
				met = "met"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t%s\t%s\t\n", x.Scenario, x.Name+" ("+x.Unit+")",
			num(x.LibMedian), num(x.RawMedian), x.Ratio, target, met)
	}
	_ = tw.Flush()
	var notes []string
	for _, x := range r.Metrics {
		if x.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s %s: %s", x.Scenario, x.Name, x.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n%s\n", strings.Join(notes, "\n"))
	}
	fmt.Fprintln(w, "\nmedians over rounds; ratio = median of per-round library/raw ratios")
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 100_000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
