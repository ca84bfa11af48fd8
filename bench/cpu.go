package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU spent during a timed run, read from /proc/<pid>/stat (utime + stime)
// before and after: by the broker process (the embedded broker's child
// process, or the Kafka JVM listening on the bootstrap port, or -broker-pid)
// and by this process (both sides' clients and, for request/reply, both the
// requester and the responder). Divided by the replies or records of the
// run, it is the CPU each costs.

// cpuMeter reads the CPU time of the broker and of this process.
type cpuMeter struct {
	brokerPID int
	brokerErr error         // why the broker's CPU is not measured
	tick      time.Duration // one clock tick (getconf CLK_TCK)
}

// cpuUse is the CPU spent during a run; broker is negative when unknown.
type cpuUse struct{ broker, self time.Duration }

// cpuSample is a reading of both clocks.
type cpuSample struct{ broker, self time.Duration }

func newCPUMeter(brokerPID int, brokerErr error) *cpuMeter {
	m := &cpuMeter{brokerPID: brokerPID, brokerErr: brokerErr, tick: clockTick()}
	if m.brokerPID > 0 {
		if _, err := m.procCPU(m.brokerPID); err != nil {
			m.brokerPID, m.brokerErr = 0, err
		}
	}
	return m
}

func (m *cpuMeter) sample() cpuSample {
	s := cpuSample{broker: -1}
	if m.brokerPID > 0 {
		if d, err := m.procCPU(m.brokerPID); err == nil {
			s.broker = d
		}
	}
	s.self, _ = m.procCPU(os.Getpid())
	return s
}

// since is the CPU spent from s to now.
func (m *cpuMeter) since(s cpuSample) cpuUse {
	now := m.sample()
	u := cpuUse{broker: -1, self: now.self - s.self}
	if s.broker >= 0 && now.broker >= 0 {
		u.broker = now.broker - s.broker
	}
	return u
}

// procCPU is utime + stime of pid (fields 14 and 15 of /proc/<pid>/stat).
func (m *cpuMeter) procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * m.tick, nil
}

// clockTick is 1/CLK_TCK from getconf (100 Hz when it cannot be asked,
// the value on every common Linux build).
func clockTick() time.Duration {
	hz := 100
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			hz = n
		}
	}
	return time.Second / time.Duration(hz)
}

// listenerPID finds the process listening on the port of the first
// bootstrap address on this machine: the socket's inode from /proc/net/tcp
// (or tcp6), then the process holding a descriptor to it.
func listenerPID(bootstrap string) (int, error) {
	first, _, _ := strings.Cut(bootstrap, ",")
	_, portStr, err := net.SplitHostPort(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("bootstrap %q: %w", bootstrap, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bootstrap %q: port: %w", bootstrap, err)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(table, uint16(port), inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no socket listens on port %d in this network namespace", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no readable process holds the socket listening on port %d (pass -broker-pid)", port)
}

// listeningInodes adds the inodes of the sockets of table (/proc/net/tcp
// format) that listen on port.
func listeningInodes(table string, port uint16, inodes map[string]bool) error {
	f, err := os.Open(table)
	if err != nil {
		return err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(s.Text())
		if len(f) >= 10 && strings.HasSuffix(f[1], want) && f[3] == "0A" { // 0A: LISTEN
			inodes[f[9]] = true
		}
	}
	return s.Err()
}
