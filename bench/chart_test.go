package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixedReport is a report as writeJSON writes it, with the three sides in
// the in-flight metrics and the produce scenarios but for franz-go in the
// async one, and a fourth side ("other") added to the in-flight metrics as
// a results file of a run with another side would have it.
func fixedReport(t *testing.T) []byte {
	t.Helper()
	rep := report{Machine: machine{Broker: "embedded (franz-go kfake, child process) 127.0.0.1:1"}}
	for i, n := range []int{1, 16, 256, 1024} {
		m := newMetric("f) req/reply x"+strconv.Itoa(n), "replies/s", "1/s")
		m.InFlight = n
		for r := range 3 {
			m.add(sideLib, float64(1000*(i+1)+r*10))
			m.add(sideRaw, float64(900*(i+1)+r*10))
			m.add(sideFranz, float64(2000*(i+1)+r*10))
		}
		m.finish()
		p99 := newMetric("f) req/reply x"+strconv.Itoa(n), "p99 latency", "ms")
		p99.InFlight = n
		p99.add(sideLib, 5)
		rep.Metrics = append(rep.Metrics, m, p99)
	}
	c := newMetric("c) produce 1024B x8", "events/s", "1/s")
	g := newMetric("g) async produce 1024B x1", "events/s", "1/s")
	for _, v := range []float64{0, 600} {
		c.add(sideLib, 18000+v)
		c.add(sideRaw, 17500+v)
		c.add(sideFranz, 19000+v)
		g.add(sideLib, 40000+v)
		g.add(sideRaw, 41000+v)
	}
	c.finish()
	g.finish()
	rep.Metrics = append(rep.Metrics, c, g,
		&metric{Scenario: "a) req/reply x1", Name: "p50 latency", Unit: "ms", Lib: []float64{0.7}, Raw: []float64{0.8}})

	var generic map[string]any
	b, err := json.Marshal(&rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for _, m := range generic["metrics"].([]any) {
		if m := m.(map[string]any); m["metric"] == "replies/s" {
			m["other"] = []float64{800, 810, 820}
		}
	}
	b, err = json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChartsFromFixedResults(t *testing.T) {
	cd, err := parseChartData(fixedReport(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"library", "raw", "franz-go", "other"}; !slices.Equal(cd.sides, want) {
		t.Errorf("sides %v, want %v", cd.sides, want)
	}
	if cd.kind != "embedded" || cd.broker != "embedded broker (franz-go kfake)" {
		t.Errorf("kind %q, broker %q", cd.kind, cd.broker)
	}
	if len(cd.inflight) != 4 || cd.inflight[3].n != 1024 || len(cd.produce) != 2 ||
		cd.produce[0].name != "produce 1024B x8" || cd.produce[1].name != "async produce 1024B x1" {
		t.Fatalf("chart data %+v", cd)
	}

	dir := t.TempDir()
	files, err := writeCharts(dir, cd)
	if err != nil {
		t.Fatal(err)
	}
	if files.inflight != filepath.Join(dir, "embedded-inflight.svg") || files.produce != filepath.Join(dir, "embedded-produce.svg") {
		t.Errorf("files %+v", files)
	}
	inflight := svgTexts(t, files.inflight)
	for _, want := range []string{"kafka-broker-go", "raw confluent-kafka-go", "franz-go", "other", "1", "16", "256", "1024", "requests in flight (log scale)"} {
		if !slices.Contains(inflight, want) {
			t.Errorf("in-flight chart lacks the text %q; has %q", want, inflight)
		}
	}
	if b, err := os.ReadFile(files.inflight); err != nil || !strings.Contains(string(b), svgFonts) || strings.Contains(string(b), "font-family:Liberation Sans;") {
		t.Errorf("in-flight chart without the font fallbacks %q (%v)", svgFonts, err)
	}
	produce := svgTexts(t, files.produce)
	for _, want := range []string{"kafka-broker-go", "raw confluent-kafka-go", "franz-go", "produce 1024B x8", "async produce 1024B x1",
		"18,300", "17,800", "19,300", "40,300", "41,300"} {
		if !slices.Contains(produce, want) {
			t.Errorf("produce chart lacks the text %q; has %q", want, produce)
		}
	}
	// "other" has no produce numbers in these results: no bar for it.
	if slices.Contains(produce, "other") {
		t.Errorf("produce chart has a bar for a side without numbers")
	}
	if n := count(produce, "franz-go"); n != 1 {
		t.Errorf("produce chart names franz-go %d times in its legend, want once", n)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestChartsNeedData(t *testing.T) {
	cd, err := parseChartData([]byte(`{"machine":{"broker":"external 127.0.0.1:9092"},"metrics":[]}`), "Kafka 4.1.2")
	if err != nil {
		t.Fatal(err)
	}
	if cd.kind != "kafka" || cd.broker != "Kafka 4.1.2" {
		t.Errorf("kind %q, broker %q", cd.kind, cd.broker)
	}
	if _, err := writeCharts(t.TempDir(), cd); err == nil {
		t.Error("charts drawn without data")
	}
	if _, err := parseChartData([]byte(`{"metrics": [`), ""); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 18299.6: "18,300", 1234567: "1,234,567", -4500: "-4,500", 0.75: "0.75"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

// svgTexts parses an SVG file as XML and returns the contents of its text
// elements.
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var texts []string
	var inText bool
	var root string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				if s := strings.TrimSpace(string(tok)); s != "" {
					texts = append(texts, s)
				}
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	return texts
}

func TestMetricTargetsAndTable(t *testing.T) {
	m := newMetric("b) req/reply x256", "replies/s", "1/s").want("lib/raw", ">=", 0.9).want("lib/franz-go", ">=", 0.5)
	for _, r := range [][3]float64{{1000, 1000, 3000}, {1100, 1000, 2000}, {900, 1000, 1500}} {
		m.add(sideLib, r[0])
		m.add(sideRaw, r[1])
		m.add(sideFranz, r[2])
	}
	m.finish()
	if m.LibMedian != 1000 || m.Ratio != 1 || m.RatioFranz != 0.55 {
		t.Errorf("medians %v, ratios %v %v", m.LibMedian, m.Ratio, m.RatioFranz)
	}
	if m.Met == nil || !*m.Met || !m.Targets[0].Met || !m.Targets[1].Met {
		t.Errorf("targets %+v", m.Targets)
	}
	flat := newMetric("i) soak", "heap in use, slope", "KiB/min").want("lib", "<=", 1024)
	flat.add(sideLib, 0)
	flat.finish()
	if !flat.Targets[0].Met {
		t.Error("a slope of 0 does not meet <= 1024")
	}
	onlyLib := newMetric("e) memory", "x", "B").want("lib/franz-go", ">=", 1)
	onlyLib.add(sideLib, 1)
	onlyLib.finish()
	if onlyLib.Targets[0].Met {
		t.Error("a ratio to a side not measured counts as met")
	}

	var b strings.Builder
	(&report{Metrics: []*metric{m, onlyLib}}).writeTable(&b)
	for _, want := range []string{"lib/raw", "lib/franz", "1.00x", "0.55x", "lib/raw >= 0.90x met; lib/franz-go >= 0.50x met", "lib/franz-go >= 1.00x MISSED"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := json.Marshal(&report{Metrics: []*metric{m, onlyLib}}); err != nil {
		t.Errorf("report with a side missing: %v", err)
	}
}
