// Package devenvtest checks what every HTTP example promises about its
// start (see devenv.Run), for the examples' tests.
package devenvtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

// StartTimeout is the -start-timeout the checks run the examples with.
const StartTimeout = 5 * time.Second

// Unreachable runs an example with each role against a broker that cannot
// be reached (a closed port on 127.0.0.1): the API, when the role runs it,
// answers /livez 200 and /readyz 503 at once, while its consumer starts, and
// the example ends within its start timeout with an error that names the
// broker's address and what to set.
func Unreachable(t *testing.T, workerLocation string, api devenv.API) {
	for _, role := range []string{"all", "api", "worker"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			dead := kafkatest.ClosedAddr(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s := devenv.Setup{Role: role, Brokers: dead, Listener: ln, StartTimeout: StartTimeout, Log: kafkatest.Logger()}
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- devenv.Run(context.Background(), s, workerLocation, api) }()
			if role != "worker" {
				url := "http://" + ln.Addr().String()
				Probe(t, url+"/livez", http.StatusOK)
				Probe(t, url+"/readyz", http.StatusServiceUnavailable)
			} else {
				ln.Close()
			}
			Ends(t, done, start, dead)
		})
	}
}

// Probe does a GET and checks its status.
func Probe(t *testing.T, url string, want int) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s while the consumer starts: %v", url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Errorf("GET %s while the consumer starts: %d %s, want %d", url, resp.StatusCode, b, want)
	}
}

// Ends waits for an example's run to end with an error that names the
// unreachable broker dead and KAFKA_BOOTSTRAP_SERVERS.
func Ends(t *testing.T, done <-chan error, start time.Time, dead string) {
	t.Helper()
	var err error
	select {
	case err = <-done:
	case <-time.After(StartTimeout + time.Minute):
		t.Fatal("the example did not give up on the unreachable broker")
	}
	t.Logf("ended after %v: %v", time.Since(start).Round(time.Millisecond), err)
	for _, want := range []string{dead, "KAFKA_BOOTSTRAP_SERVERS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to mention %q", err, want)
		}
	}
}
