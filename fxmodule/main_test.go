package fxmodule_test

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	kafkatest.Main(m)
}
