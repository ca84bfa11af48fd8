package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// machine describes where the bench ran, read at run time: the CPU model and
// core count from /proc/cpuinfo, the memory from /proc/meminfo.
type machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	MemoryGiB  float64 `json:"memory_gib,omitempty"`
	OS         string  `json:"os"`
	Go         string  `json:"go"`
	Librdkafka string  `json:"librdkafka"`
	FranzGo    string  `json:"franz_go"`
	Broker     string  `json:"broker"`
	BrokerPID  int     `json:"broker_pid,omitempty"`
	LoadStart  string  `json:"load_start"`
	LoadEnd    string  `json:"load_end,omitempty"`
	Kafka      string  `json:"kafka_overrides,omitempty"`
}

func describeMachine(e *env, props string) machine {
	_, lib := kafka.LibraryVersion()
	model, cores := cpuInfo()
	return machine{
		CPU:        model,
		Cores:      cores,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		MemoryGiB:  memTotalGiB(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		Go:         runtime.Version(),
		Librdkafka: lib,
		FranzGo:    franzVersion(),
		Broker:     e.broker,
		BrokerPID:  e.cpu.brokerPID,
		LoadStart:  loadAvg(),
		Kafka:      props,
	}
}

// writeHeader writes the lines that start the table.
func (m *machine) writeHeader(w io.Writer) {
	mem := ""
	if m.MemoryGiB > 0 {
		mem = fmt.Sprintf(", %.1f GiB", m.MemoryGiB)
	}
	fmt.Fprintf(w, "machine:    %s, %d cores (GOMAXPROCS %d)%s, %s\n", m.CPU, m.Cores, m.GOMAXPROCS, mem, m.OS)
	fmt.Fprintf(w, "go:         %s   librdkafka: %s   franz-go: %s\n", m.Go, m.Librdkafka, m.FranzGo)
	pid := ""
	if m.BrokerPID > 0 {
		pid = fmt.Sprintf(" (pid %d)", m.BrokerPID)
	}
	fmt.Fprintf(w, "broker:     %s%s\n", m.Broker, pid)
	fmt.Fprintf(w, "load avg:   %s (start)  %s (end)\n", m.LoadStart, m.LoadEnd)
	if m.Kafka != "" {
		fmt.Fprintf(w, "overrides:  %s (library and raw confluent-kafka-go; not franz-go)\n", m.Kafka)
	}
}

// cpuInfo returns the first "model name" of /proc/cpuinfo (on machines
// without one, such as some arm64 kernels, "Hardware" or the architecture)
// and the number of "processor" entries (runtime.NumCPU when unreadable).
func cpuInfo() (model string, cores int) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH, runtime.NumCPU()
	}
	defer f.Close()
	var hardware string
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); k {
		case "processor":
			cores++
		case "model name":
			if model == "" {
				model = v
			}
		case "Hardware":
			hardware = v
		}
	}
	if model == "" {
		model = hardware
	}
	if model == "" {
		model = runtime.GOARCH
	}
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	return model, cores
}

// memTotalGiB reads MemTotal from /proc/meminfo; 0 when unreadable.
func memTotalGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / (1 << 20)
				}
			}
		}
	}
	return 0
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
