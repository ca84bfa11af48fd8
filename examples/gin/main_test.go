//go:build !browser

// The browser tier (-tags browser) runs browser_test.go alone.

package main

import (
	"testing"

	"github.com/kafka-broker/kafka-broker-go/examples/internal/devenv/devenvtest"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

func TestUnreachableBroker(t *testing.T) {
	devenvtest.Unreachable(t, workerLocation, serveAPI)
}
