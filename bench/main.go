// Command bench measures kafka-broker-go against hand-written code doing the
// same work on the same broker, in one run: raw confluent-kafka-go with the
// library's structure (raw.go) and franz-go with the fastest sensible
// structure (franz.go), the limit on this machine. The broker is the
// embedded one (started in a child process) by default, or the one named by
// KAFKA_BOOTSTRAP_SERVERS. It prints a table of medians and the ratios
// library/raw and library/franz-go, with the broker's CPU per reply or
// record; see BENCHMARKS.md for the targets and results.
//
//	go run ./bench                          # the default scenarios, roughly 7 minutes on 2 cores
//	go run ./bench -scenarios rr1,rr256 -rounds 7
//	go run ./bench -scenarios soak -soak-duration 150s      # heap over time, library only
//	go run ./bench -kafka linger.ms=5,fetch.wait.max.ms=10   # library and raw
//	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092 go run ./bench -json
//	go run ./bench -charts-from bench/out/embedded-results.json   # redraw the charts of a run
//
// Besides the table on stdout, each run writes to -out (bench/out by
// default): <broker>-results.json and <broker>-results.txt, and the SVG
// charts <broker>-inflight.svg and <broker>-produce.svg (chart.go), where
// <broker> is "embedded" or "kafka".
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	scenarios      string
	rounds         int
	memRounds      int
	duration       time.Duration
	warmup         time.Duration
	inflight       int
	producers      int
	eventSize      int
	consumeEvents  int
	consumeLimit   time.Duration
	rawConsume     string
	pending        int
	stored         int
	kafka          string
	json           bool
	quiet          bool
	cpuProfile     string
	sweep          string
	sweepRounds    int
	asyncProducers int
	soakDuration   time.Duration
	soakEvery      time.Duration
	brokerPID      int
	out            string
	chartsFrom     string
	brokerName     string
}

// allScenarios in the order they run; soak is off unless asked for.
var (
	allScenarios     = []string{"rr1", "rr256", "inflight", "mixed", "produce", "produce-async", "consume", "memory", "eos", "soak"}
	defaultScenarios = slices.DeleteFunc(slices.Clone(allScenarios), func(s string) bool { return s == "soak" })
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == serveEmbeddedFlag {
		serveEmbedded()
		return
	}
	var o options
	flag.StringVar(&o.scenarios, "scenarios", strings.Join(defaultScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per scenario, each running every side once (medians are reported)")
	flag.IntVar(&o.memRounds, "mem-rounds", 3, "at most this many rounds for the memory scenario")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "length of each timed run (request/reply and produce scenarios)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured run of each side before the rounds")
	flag.IntVar(&o.inflight, "inflight", 256, "requests in flight in scenario rr256")
	flag.IntVar(&o.producers, "producers", 8, "producing goroutines in scenario produce")
	flag.IntVar(&o.asyncProducers, "async-producers", 1, "goroutines handing events to the async producer in scenario produce-async")
	flag.IntVar(&o.eventSize, "event-size", 1024, "bytes of event data in scenarios produce and produce-async")
	flag.IntVar(&o.consumeEvents, "consume-events", 100_000, "events per round in scenario consume")
	flag.StringVar(&o.rawConsume, "raw-consume", "inline", "raw consumer in scenario consume: inline (handle in the poll loop) or workers (a goroutine per partition, like the library)")
	flag.DurationVar(&o.consumeLimit, "consume-limit", 15*time.Second, "longest consume run; a slower side is measured on what it handled by then")
	flag.IntVar(&o.pending, "pending", 10_000, "pending requests measured in scenario memory")
	flag.IntVar(&o.stored, "stored", 100_000, "stored events measured in scenario memory")
	flag.StringVar(&o.kafka, "kafka", "", "librdkafka properties for the library and raw sides, k=v,k=v (e.g. linger.ms=5)")
	flag.BoolVar(&o.json, "json", false, "print the report as JSON instead of a table")
	flag.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured process (every side) to this file")
	flag.StringVar(&o.sweep, "sweep", "1,16,256,1024", "requests in flight measured in scenario inflight (the in-flight chart)")
	flag.IntVar(&o.sweepRounds, "sweep-rounds", 3, "rounds of scenarios inflight (each drives every level on each side) and mixed")
	flag.DurationVar(&o.soakDuration, "soak-duration", 150*time.Second, "length of scenario soak")
	flag.DurationVar(&o.soakEvery, "soak-every", 5*time.Second, "heap sampling interval of scenario soak")
	flag.IntVar(&o.brokerPID, "broker-pid", 0, "process whose CPU is the broker's (default: the embedded broker's child process, or the process listening on the bootstrap port)")
	flag.StringVar(&o.out, "out", filepath.Join("bench", "out"), "directory for the results (JSON, table) and the SVG charts; empty: none")
	flag.StringVar(&o.chartsFrom, "charts-from", "", "draw the charts from this saved results JSON into -out, and run nothing")
	flag.StringVar(&o.brokerName, "broker-name", "", "how chart titles name the broker (default: from the results, e.g. \"embedded broker (franz-go kfake)\")")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if o.chartsFrom != "" {
		return redrawCharts(o)
	}
	want, levels, props, err := o.check()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	e, err := newEnv(ctx, props, !o.quiet, o.brokerPID)
	if err != nil {
		return err
	}
	defer e.close()
	rep := &report{Machine: describeMachine(e, o.kafka), Flags: strings.Join(os.Args[1:], " ")}
	e.progress("broker %s; librdkafka %s; franz-go %s", e.broker, rep.Machine.Librdkafka, rep.Machine.FranzGo)
	if e.cpu.brokerPID == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("broker CPU not measured: %v", e.cpu.brokerErr))
	}

	type scenario struct {
		names []string
		run   func() ([]*metric, error)
	}
	for _, s := range []scenario{
		{[]string{"rr1", "rr256", "inflight", "mixed"}, func() ([]*metric, error) { return runRequestReply(ctx, e, o, want, levels) }},
		{[]string{"produce"}, func() ([]*metric, error) { return runProduce(ctx, e, o) }},
		{[]string{"produce-async"}, func() ([]*metric, error) { return runProduceAsync(ctx, e, o) }},
		{[]string{"consume"}, func() ([]*metric, error) { return runConsume(ctx, e, o) }},
		{[]string{"memory"}, func() ([]*metric, error) { return runMemory(ctx, e, o) }},
		{[]string{"soak"}, func() ([]*metric, error) {
			ms, run, err := runSoak(ctx, e, o)
			rep.Soak = run
			return ms, err
		}},
		{[]string{"eos"}, func() ([]*metric, error) { return runEOS(ctx, e, o) }}, // eos.go
	} {
		if !slices.ContainsFunc(s.names, func(n string) bool { return want[n] }) {
			continue
		}
		ms, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(s.names, "/"), err)
		}
		for _, m := range ms {
			if !m.empty() {
				m.finish()
				rep.Metrics = append(rep.Metrics, m)
			}
		}
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	if o.json {
		err = rep.writeJSON(os.Stdout)
	} else {
		rep.writeTable(os.Stdout)
	}
	if o.out != "" {
		err = errors.Join(err, rep.save(o))
	}
	return err
}

// check checks the flags and returns the scenarios to run, the levels of
// the in-flight sweep and the librdkafka properties.
func (o *options) check() (want map[string]bool, levels []int, props map[string]any, err error) {
	want = map[string]bool{}
	for _, s := range strings.Split(o.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, nil, nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		want[s] = true
	}
	if o.rawConsume != "inline" && o.rawConsume != "workers" {
		return nil, nil, nil, fmt.Errorf("-raw-consume: want inline or workers, got %q", o.rawConsume)
	}
	if levels, err = parseLevels(o.sweep); err != nil {
		return nil, nil, nil, err
	}
	if o.rounds < 1 || o.sweepRounds < 1 || o.inflight < 1 || o.producers < 1 || o.asyncProducers < 1 || o.eventSize < 16 || o.consumeEvents < 2 || o.pending < 1 || o.stored < 1 {
		return nil, nil, nil, fmt.Errorf("rounds, sweep-rounds, inflight, producers, async-producers, pending and stored must be positive, consume-events >= 2, event-size >= 16")
	}
	if want["soak"] && (o.soakEvery <= 0 || o.soakDuration < 2*o.soakEvery) {
		return nil, nil, nil, fmt.Errorf("-soak-duration must be at least twice -soak-every (> 0)")
	}
	if props, err = parseProps(o.kafka); err != nil {
		return nil, nil, nil, err
	}
	return want, levels, props, nil
}

// save writes the report's JSON and table to o.out, and the charts of
// what it holds.
func (r *report) save(o *options) error {
	var js, table bytes.Buffer
	if err := r.writeJSON(&js); err != nil {
		return err
	}
	r.writeTable(&table)
	cd, err := parseChartData(js.Bytes(), o.brokerName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(o.out, cd.kind+"-results")
	if err := os.WriteFile(base+".json", js.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".txt", table.Bytes(), 0o644); err != nil {
		return err
	}
	saved := []string{base + ".json", base + ".txt"}
	if len(cd.inflight) > 0 || cd.produce != nil {
		files, err := writeCharts(o.out, cd)
		if err != nil {
			return fmt.Errorf("charts: %w", err)
		}
		saved = append(saved, nonEmpty(files.inflight, files.produce)...)
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", strings.Join(saved, ", "))
	return nil
}

// redrawCharts draws the charts of a saved results JSON.
func redrawCharts(o *options) error {
	data, err := os.ReadFile(o.chartsFrom)
	if err != nil {
		return err
	}
	cd, err := parseChartData(data, o.brokerName)
	if err != nil {
		return fmt.Errorf("%s: %w", o.chartsFrom, err)
	}
	dir := o.out
	if dir == "" {
		dir = filepath.Dir(o.chartsFrom)
	}
	files, err := writeCharts(dir, cd)
	if err != nil {
		return fmt.Errorf("%s: %w", o.chartsFrom, err)
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s\n", strings.Join(nonEmpty(files.inflight, files.produce), ", "))
	return nil
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseProps reads "k=v,k=v"; integers and booleans keep their type.
func parseProps(s string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-kafka: want key=value, got %q", kv)
		}
		switch n, err := strconv.Atoi(v); {
		case err == nil:
			out[k] = n
		case v == "true" || v == "false":
			out[k] = v == "true"
		default:
			out[k] = v
		}
	}
	return out, nil
}
