package main

import (
	"net"
	"os"
	"testing"
	"time"
)

func TestListenerPIDFindsThisProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := listenerPID("127.0.0.1:1," + l.Addr().String())
	if err == nil || pid != 0 {
		t.Errorf("port 1 (first address, nobody listens): pid %d, err %v", pid, err)
	}
	pid, err = listenerPID(l.Addr().String() + ",127.0.0.1:1")
	if err != nil || pid != os.Getpid() {
		t.Errorf("pid %d, err %v; want %d", pid, err, os.Getpid())
	}
}

func TestCPUMeterCountsThisProcess(t *testing.T) {
	m := newCPUMeter(os.Getpid(), nil) // this process as "broker" too
	if m.tick <= 0 || m.tick > 100*time.Millisecond {
		t.Fatalf("clock tick %v", m.tick)
	}
	// Spin until this process's clock shows 100 ms (on a loaded machine
	// that takes longer than 100 ms), then both readings must show it.
	before := m.sample()
	deadline := time.Now().Add(10 * time.Second)
	for m.since(before).self < 100*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("10 s of spinning measured as %v", m.since(before).self)
		}
	}
	if u := m.since(before); u.broker < 100*time.Millisecond || u.broker > u.self+m.tick {
		t.Errorf("broker (this process) measured %v, self %v", u.broker, u.self)
	}
	gone := newCPUMeter(1<<30, nil)
	if gone.brokerPID != 0 || gone.brokerErr == nil || gone.since(gone.sample()).broker != -1 {
		t.Errorf("a process that does not exist is measured: %+v", gone)
	}
}

func TestMachineFromProc(t *testing.T) {
	model, cores := cpuInfo()
	if model == "" || cores < 1 {
		t.Errorf("model %q, cores %d", model, cores)
	}
	if memTotalGiB() <= 0 {
		t.Error("no MemTotal")
	}
}

func TestSlope(t *testing.T) {
	x := []float64{0, 5, 10, 15}
	if s := slope(x, []float64{10, 10, 10, 10}); s != 0 {
		t.Errorf("flat: %v", s)
	}
	if s := slope(x, []float64{10, 11, 12, 13}); s < 0.1999 || s > 0.2001 {
		t.Errorf("0.2 per unit: %v", s)
	}
	// A heap that fills a bounded cache, then stays: flat over the last half.
	if s := lastHalfSlope(x, []float64{10, 20, 20, 20}); s != 0 {
		t.Errorf("last half: %v", s)
	}
	if s := lastHalfSlope(x[:3], []float64{10, 20, 30}); s != 2 {
		t.Errorf("last half of 3 samples (the last 2): %v", s)
	}
}
