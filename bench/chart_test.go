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

// fixedReport is a report as writeJSON writes it, with a third side in the
// in-flight metrics as a results file of a three-sided run would have.
func fixedReport(t *testing.T) []byte {
	t.Helper()
	rep := report{Machine: machine{Broker: "embedded (franz-go kfake, child process) 127.0.0.1:1"}}
	for i, n := range []int{1, 16, 256, 1024} {
		m := &metric{Scenario: "f) req/reply x" + strconv.Itoa(n), Name: "replies/s", Unit: "1/s", InFlight: n}
		for r := range 3 {
			m.add(float64(1000*(i+1)+r*10), float64(900*(i+1)+r*10))
		}
		m.finish()
		rep.Metrics = append(rep.Metrics, m)
	}
	p := &metric{Scenario: "c) produce 1024B x8", Name: "events/s", Unit: "1/s"}
	p.add(18000, 17500)
	p.add(18600, 18100)
	p.finish()
	rep.Metrics = append(rep.Metrics, p,
		&metric{Scenario: "a) req/reply x1", Name: "p50 latency", Unit: "ms", Lib: []float64{0.7}, Raw: []float64{0.8}})

	var generic map[string]any
	b, err := json.Marshal(&rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for i, m := range generic["metrics"].([]any) {
		if i < 4 {
			m.(map[string]any)["franz-go"] = []float64{800, 810, 820}
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
	if want := []string{"library", "raw", "franz-go"}; !slices.Equal(cd.sides, want) {
		t.Errorf("sides %v, want %v", cd.sides, want)
	}
	if cd.kind != "embedded" || cd.broker != "embedded broker (franz-go kfake)" {
		t.Errorf("kind %q, broker %q", cd.kind, cd.broker)
	}
	if len(cd.inflight) != 4 || cd.inflight[3].n != 1024 || cd.produce == nil || cd.produce.name != "produce 1024B x8" {
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
	for _, want := range []string{"kafka-broker-go", "raw confluent-kafka-go", "franz-go", "1", "16", "256", "1024", "requests in flight (log scale)"} {
		if !slices.Contains(inflight, want) {
			t.Errorf("in-flight chart lacks the text %q; has %q", want, inflight)
		}
	}
	if b, err := os.ReadFile(files.inflight); err != nil || !strings.Contains(string(b), svgFonts) || strings.Contains(string(b), "font-family:Liberation Sans;") {
		t.Errorf("in-flight chart without the font fallbacks %q (%v)", svgFonts, err)
	}
	produce := svgTexts(t, files.produce)
	// franz-go has no produce numbers in these results: no bar for it.
	for _, want := range []string{"kafka-broker-go", "raw confluent-kafka-go", "produce 1024B x8", "18,300", "17,800"} {
		if !slices.Contains(produce, want) {
			t.Errorf("produce chart lacks the text %q; has %q", want, produce)
		}
	}
	if slices.Contains(produce, "franz-go") {
		t.Errorf("produce chart has a franz-go bar without numbers")
	}
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
