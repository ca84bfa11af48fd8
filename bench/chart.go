package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Charts of a report, drawn with gonum.org/v1/plot:
//
//   - <broker>-inflight.svg: replies/s against requests in flight (scenario f),
//     log-scale x, one line per side through the medians of the rounds, with
//     whiskers from the slowest to the fastest round;
//   - <broker>-produce.svg: produce throughput per side, a group of bars per
//     produce scenario (c: with ack; g: async).
//
// They are drawn from the report's JSON, so `-charts-from results.json`
// redraws a saved run and every side the results hold is drawn: a side is
// any member of a metric whose value is an array of numbers (one per round),
// such as "library" and "raw", or such an array inside an object member.

// chartData is what the charts need of a report.
type chartData struct {
	broker   string   // as the titles name it
	kind     string   // file name prefix: "embedded" or "kafka"
	sides    []string // keys, in drawing order
	inflight []inflightPoint
	produce  []namedValues // one group of bars per produce scenario
}

type inflightPoint struct {
	n      int
	values map[string][]float64 // side -> one value per round
}

type namedValues struct {
	name   string
	values map[string][]float64
}

// sideLabels names the sides in legends; a side not listed keeps its key.
var sideLabels = map[string]string{
	sideLib:   "kafka-broker-go",
	sideRaw:   "raw confluent-kafka-go",
	sideFranz: "franz-go",
}

// sideOrder puts the library first, the raw confluent-kafka-go baseline
// second, franz-go third, then any other side by name.
func sideOrder(a, b string) int {
	rank := func(s string) int {
		if i := slices.Index(allSides, s); i >= 0 {
			return i
		}
		return len(allSides)
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func sideLabel(key string) string {
	if l, ok := sideLabels[key]; ok {
		return l
	}
	return key
}

// parseChartData reads the report's JSON (as writeJSON writes it).
func parseChartData(data []byte, brokerName string) (*chartData, error) {
	var rep struct {
		Machine struct {
			Broker string `json:"broker"`
		} `json:"machine"`
		Metrics []map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	cd := &chartData{broker: brokerName, kind: "kafka"}
	if strings.HasPrefix(rep.Machine.Broker, "embedded") {
		cd.kind = "embedded"
	}
	if cd.broker == "" {
		cd.broker = rep.Machine.Broker
		if cd.kind == "embedded" {
			cd.broker = "embedded broker (franz-go kfake)"
		}
	}
	seen := map[string]bool{}
	for _, m := range rep.Metrics {
		var scenario, name string
		var inFlight int
		_ = json.Unmarshal(m["scenario"], &scenario)
		_ = json.Unmarshal(m["metric"], &name)
		_ = json.Unmarshal(m["in_flight"], &inFlight)
		values := sidesOf(m)
		for s := range values {
			if !seen[s] {
				seen[s] = true
				cd.sides = append(cd.sides, s)
			}
		}
		switch {
		case inFlight > 0 && name == "replies/s":
			cd.inflight = append(cd.inflight, inflightPoint{n: inFlight, values: values})
		case name == "events/s" && strings.Contains(scenario, "produce"):
			label := scenario
			if _, rest, ok := strings.Cut(scenario, ") "); ok {
				label = rest
			}
			cd.produce = append(cd.produce, namedValues{name: label, values: values})
		}
	}
	slices.SortFunc(cd.sides, sideOrder)
	slices.SortFunc(cd.inflight, func(a, b inflightPoint) int { return a.n - b.n })
	return cd, nil
}

// sidesOf returns the members of a metric that are arrays of numbers, and
// those of its object members.
func sidesOf(m map[string]json.RawMessage) map[string][]float64 {
	out := map[string][]float64{}
	for k, raw := range m {
		var vs []float64
		if err := json.Unmarshal(raw, &vs); err == nil && len(vs) > 0 {
			out[k] = vs
			continue
		}
		var nested map[string]json.RawMessage
		if err := json.Unmarshal(raw, &nested); err == nil {
			for nk, nraw := range nested {
				if err := json.Unmarshal(nraw, &vs); err == nil && len(vs) > 0 {
					out[nk] = vs
				}
			}
		}
	}
	return out
}

// chartFiles are the files writeCharts writes, by chart.
type chartFiles struct{ inflight, produce string }

// writeCharts draws the charts the data has into dir.
func writeCharts(dir string, cd *chartData) (chartFiles, error) {
	var files chartFiles
	if len(cd.inflight) == 0 && len(cd.produce) == 0 {
		return files, errors.New("no chart data in the results (scenarios inflight and produce)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return files, err
	}
	if len(cd.inflight) > 0 {
		p, err := inflightChart(cd)
		if err != nil {
			return files, err
		}
		files.inflight = filepath.Join(dir, cd.kind+"-inflight.svg")
		if err := saveSVG(p, files.inflight); err != nil {
			return files, err
		}
	}
	if len(cd.produce) > 0 {
		p, err := produceChart(cd)
		if err != nil {
			return files, err
		}
		files.produce = filepath.Join(dir, cd.kind+"-produce.svg")
		if err := saveSVG(p, files.produce); err != nil {
			return files, err
		}
	}
	return files, nil
}

const chartWidth, chartHeight = 16 * vg.Centimeter, 10 * vg.Centimeter

func saveSVG(p *plot.Plot, path string) error {
	w, err := p.WriterTo(chartWidth, chartHeight, "svg")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return err
	}
	// The text is placed with Liberation Sans metrics; Arial has the same
	// metrics, and a browser without either still gets a sans-serif font
	// (the fonts are not embedded: that would add ~0.5 MB per chart).
	svg := bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"), []byte(svgFonts+";"))
	return os.WriteFile(path, svg, 0o644)
}

const svgFonts = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif"

// sideStyle gives each side the same color and glyph in every chart.
func sideStyle(cd *chartData, side string) (color.Color, draw.GlyphDrawer) {
	i := slices.Index(cd.sides, side)
	return plotutil.DarkColors[i%len(plotutil.DarkColors)], plotutil.Shape(i)
}

// newPlot is a plot in Liberation Sans with the title's second line
// naming the broker and how the rounds are summarised (the median, and
// whiskers from the slowest to the fastest round), a y axis from 0 with
// 12,000-style labels, and the legend top left (the charts leave room for
// it above the data).
func newPlot(title string, cd *chartData, rounds int) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s\n%s, median of %d rounds, whiskers min to max", title, cd.broker, rounds)
	p.Title.Padding = vg.Points(8)
	for _, sty := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Font.Variant = "Sans"
	}
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Min = 0
	p.Y.Tick.Marker = thousandsTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Legend.YOffs = -vg.Points(4)
	return p
}

// legendRoom is how much higher than the data the y axis reaches, so the
// legend (three lines at most) does not cover it.
const legendRoom = 1.35

func maxRounds(vs ...map[string][]float64) int {
	n := 0
	for _, m := range vs {
		for _, v := range m {
			n = max(n, len(v))
		}
	}
	return n
}

func inflightChart(cd *chartData) (*plot.Plot, error) {
	var all []map[string][]float64
	top := 0.0
	for _, pt := range cd.inflight {
		all = append(all, pt.values)
		for _, v := range pt.values {
			top = max(top, slices.Max(v))
		}
	}
	p := newPlot("Request/reply: replies/s by requests in flight", cd, maxRounds(all...))
	p.Add(plotter.NewGrid())
	p.X.Label.Text = "requests in flight (log scale)"
	p.Y.Label.Text = "replies/s"
	p.Y.Max = top * legendRoom
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, pt := range cd.inflight {
		ticks = append(ticks, plot.Tick{Value: float64(pt.n), Label: strconv.Itoa(pt.n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Room either side of the first and last level on the log axis.
	p.X.Min = float64(cd.inflight[0].n) / 1.6
	p.X.Max = float64(cd.inflight[len(cd.inflight)-1].n) * 1.6

	for _, side := range cd.sides {
		var pts []plotter.XYer
		for _, pt := range cd.inflight {
			vs := pt.values[side]
			if len(vs) == 0 {
				continue
			}
			xys := make(plotter.XYs, len(vs))
			for i, v := range vs {
				xys[i] = plotter.XY{X: float64(pt.n), Y: v}
			}
			pts = append(pts, xys)
		}
		if len(pts) == 0 {
			continue
		}
		ep, err := plotutil.NewErrorPoints(plotutil.MedianAndMinMax, pts...)
		if err != nil {
			return nil, fmt.Errorf("side %s: %w", side, err)
		}
		c, glyph := sideStyle(cd, side)
		line, points, err := plotter.NewLinePoints(ep)
		if err != nil {
			return nil, err
		}
		line.Color = c
		line.Width = vg.Points(1.5)
		points.Color = c
		points.Shape = glyph
		points.Radius = vg.Points(3)
		bars, err := plotter.NewYErrorBars(ep)
		if err != nil {
			return nil, err
		}
		bars.Color = c
		bars.CapWidth = vg.Points(6)
		p.Add(line, points, bars)
		p.Legend.Add(sideLabel(side), line, points)
	}
	return p, nil
}

func produceChart(cd *chartData) (*plot.Plot, error) {
	var all []map[string][]float64
	var names []string
	for _, g := range cd.produce {
		all = append(all, g.values)
		names = append(names, g.name)
	}
	p := newPlot("Produce: events/s by side", cd, maxRounds(all...))
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	p.Y.Label.Text = "events/s"
	p.NominalX(names...)
	// The bars' data range is their groups' x (0, 1, ...); their widths
	// and offsets are in points, so leave half a group either side.
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Padding = 0 // NominalX pads for its labels; half a group is room enough
	width := vg.Points(40)
	if len(cd.produce) == 1 {
		width = vg.Points(60)
	}
	top := 0.0
	legend := map[string]bool{}
	for gi, g := range cd.produce {
		var sides []string
		for _, s := range cd.sides {
			if len(g.values[s]) > 0 {
				sides = append(sides, s)
			}
		}
		for i, side := range sides {
			med, low, high := plotutil.MedianAndMinMax(slices.Clone(g.values[side]))
			top = max(top, med+high)
			offset := (vg.Length(i) - vg.Length(len(sides)-1)/2) * (width + vg.Points(6))
			c, _ := sideStyle(cd, side)
			bar, err := produceBar(float64(gi), med, low, high, offset, width, c, p)
			if err != nil {
				return nil, err
			}
			if !legend[side] {
				legend[side] = true
				p.Legend.Add(sideLabel(side), bar)
			}
		}
	}
	p.Y.Max = top * legendRoom
	return p, nil
}

// produceBar adds a bar at x (shifted by offset) with its whiskers and
// value label to p.
func produceBar(x, med, low, high float64, offset, width vg.Length, c color.Color, p *plot.Plot) (*plotter.BarChart, error) {
	bar, err := plotter.NewBarChart(plotter.Values{med}, width)
	if err != nil {
		return nil, err
	}
	bar.Color = c
	bar.LineStyle.Width = 0
	bar.Offset = offset
	bar.XMin = x
	eb, err := plotter.NewYErrorBars(errorPoint{x: x, y: med, low: low, high: high})
	if err != nil {
		return nil, err
	}
	eb.CapWidth = vg.Points(8)
	label, err := plotter.NewLabels(plotter.XYLabels{
		XYs:    plotter.XYs{{X: x, Y: med + high}},
		Labels: []string{thousands(med)},
	})
	if err != nil {
		return nil, err
	}
	for j := range label.TextStyle {
		label.TextStyle[j].XAlign = draw.XCenter
		label.TextStyle[j].Font.Variant = "Sans"
	}
	label.Offset = vg.Point{X: offset, Y: vg.Points(4)}
	p.Add(bar, &offsetErrorBars{YErrorBars: eb, offset: offset}, label)
	return bar, nil
}

// errorPoint is one point with its Y errors, for NewYErrorBars.
type errorPoint struct{ x, y, low, high float64 }

func (e errorPoint) Len() int                       { return 1 }
func (e errorPoint) XY(int) (float64, float64)      { return e.x, e.y }
func (e errorPoint) YError(int) (low, high float64) { return e.low, e.high }

// offsetErrorBars draws error bars shifted like a bar chart's Offset.
type offsetErrorBars struct {
	*plotter.YErrorBars
	offset vg.Length
}

func (o *offsetErrorBars) Plot(c draw.Canvas, p *plot.Plot) {
	c.Min.X += o.offset
	c.Max.X += o.offset
	o.YErrorBars.Plot(c, p)
}

// thousandsTicks are the default ticks labelled 12,000 instead of 12000.
type thousandsTicks struct{}

func (thousandsTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = thousands(ticks[i].Value)
		}
	}
	return ticks
}

// thousands formats v rounded, with thousands separators (or with two
// significant decimals below 10).
func thousands(v float64) string {
	if math.Abs(v) < 10 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
