package fxmodule_test

import (
	"testing"

	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }
