package embedded_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kafka-broker/kafka-broker-go/embedded"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartListensOnLoopback(t *testing.T) {
	c, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	addr := c.BootstrapServers()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("BootstrapServers() = %q, want 127.0.0.1:port", addr)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn.Close()
	c.Close()
	c.Close() // idempotent
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}

func TestStartOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if c, err := embedded.Start(embedded.WithPort(port)); err == nil {
		c.Close()
		t.Fatalf("Start on busy port %d succeeded", port)
	}
}

func ExampleStart() {
	broker, err := embedded.Start()
	if err != nil {
		panic(err)
	}
	defer broker.Close()
	fmt.Println(strings.HasPrefix(broker.BootstrapServers(), "127.0.0.1:"))
	// Output: true
}
