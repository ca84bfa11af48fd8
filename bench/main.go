// Command bench measures kafka-broker-go against hand-written
// confluent-kafka-go code doing the same work, on the same broker, in one
// run: the embedded broker (started in a child process) by default, or the
// one named by KAFKA_BOOTSTRAP_SERVERS. It prints a table of medians and
// library/raw ratios; see BENCHMARKS.md for the targets and results.
//
//	go run ./bench                          # everything, about 4 minutes on 2 cores
//	go run ./bench -scenarios rr1,rr256 -rounds 7
//	go run ./bench -kafka linger.ms=5,fetch.wait.max.ms=10   # both sides
//	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092 go run ./bench -json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

type options struct {
	scenarios     string
	rounds        int
	memRounds     int
	duration      time.Duration
	warmup        time.Duration
	inflight      int
	producers     int
	eventSize     int
	consumeEvents int
	consumeLimit  time.Duration
	rawConsume    string
	pending       int
	stored        int
	kafka         string
	json          bool
	quiet         bool
	cpuProfile    string
}

var allScenarios = []string{"rr1", "rr256", "produce", "consume", "memory"}

func main() {
	if len(os.Args) == 2 && os.Args[1] == serveEmbeddedFlag {
		serveEmbedded()
		return
	}
	var o options
	flag.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.rounds, "rounds", 5, "library/raw round pairs per scenario (medians are reported)")
	flag.IntVar(&o.memRounds, "mem-rounds", 3, "at most this many rounds for the memory scenario")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "length of each timed run (rr1, rr256, produce)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured run of each side before the rounds")
	flag.IntVar(&o.inflight, "inflight", 256, "requests in flight in scenario rr256")
	flag.IntVar(&o.producers, "producers", 8, "producing goroutines in scenario produce")
	flag.IntVar(&o.eventSize, "event-size", 1024, "bytes of event data in scenario produce")
	flag.IntVar(&o.consumeEvents, "consume-events", 100_000, "events per round in scenario consume")
	flag.StringVar(&o.rawConsume, "raw-consume", "inline", "raw consumer in scenario consume: inline (handle in the poll loop) or workers (a goroutine per partition, like the library)")
	flag.DurationVar(&o.consumeLimit, "consume-limit", 15*time.Second, "longest consume run; a slower side is measured on what it handled by then")
	flag.IntVar(&o.pending, "pending", 10_000, "pending requests measured in scenario memory")
	flag.IntVar(&o.stored, "stored", 100_000, "stored events measured in scenario memory")
	flag.StringVar(&o.kafka, "kafka", "", "librdkafka properties for both sides, k=v,k=v (e.g. linger.ms=5)")
	flag.BoolVar(&o.json, "json", false, "print the report as JSON instead of a table")
	flag.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured process (both sides) to this file")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	want := map[string]bool{}
	for _, s := range strings.Split(o.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		want[s] = true
	}
	if o.rawConsume != "inline" && o.rawConsume != "workers" {
		return fmt.Errorf("-raw-consume: want inline or workers, got %q", o.rawConsume)
	}
	if o.rounds < 1 || o.inflight < 1 || o.producers < 1 || o.eventSize < 16 || o.consumeEvents < 2 || o.pending < 1 || o.stored < 1 {
		return fmt.Errorf("rounds, inflight, producers, consume-events, pending and stored must be positive, event-size >= 16")
	}
	props, err := parseProps(o.kafka)
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
	e, err := newEnv(ctx, props, !o.quiet)
	if err != nil {
		return err
	}
	defer e.close()
	rep := &report{Machine: describeMachine(e, o.kafka), Flags: strings.Join(os.Args[1:], " ")}
	e.progress("broker %s; librdkafka %s", e.broker, rep.Machine.Librdkafka)

	type scenario struct {
		names []string
		run   func() ([]*metric, error)
	}
	for _, s := range []scenario{
		{[]string{"rr1", "rr256"}, func() ([]*metric, error) { return runRequestReply(ctx, e, o, want) }},
		{[]string{"produce"}, func() ([]*metric, error) { return runProduce(ctx, e, o) }},
		{[]string{"consume"}, func() ([]*metric, error) { return runConsume(ctx, e, o) }},
		{[]string{"memory"}, func() ([]*metric, error) { return runMemory(ctx, e, o) }},
	} {
		if !want[s.names[0]] && (len(s.names) < 2 || !want[s.names[1]]) {
			continue
		}
		ms, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(s.names, "/"), err)
		}
		for _, m := range ms {
			m.finish()
		}
		rep.Metrics = append(rep.Metrics, ms...)
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	if o.json {
		return rep.writeJSON(os.Stdout)
	}
	rep.writeTable(os.Stdout)
	return nil
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
