package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func main() {
	bs := os.Args[1]
	logs := make(chan kafka.LogEvent, 256)
	go func() {
		for range logs {
		}
	}()
	cm := kafka.ConfigMap{"bootstrap.servers": bs, "enable.idempotence": true, "acks": "all", "linger.ms": 0,
		"go.delivery.report.fields": "none", "allow.auto.create.topics": false, "log_level": 0,
		"message.max.bytes": 1114112, "go.events.channel.size": 10000, "go.produce.channel.size": 0,
		"queue.buffering.max.kbytes": 65536, "go.logs.channel.enable": true, "go.logs.channel": logs}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		panic(err)
	}
	pa, _ := kafka.NewAdminClientFromProducer(p)
	go func() {
		for range p.Events() {
		}
	}()
	acks := make(chan kafka.Event, 4096)
	val := `{"correlation_id":"` + strings.Repeat("a", 36) + `","status":"pending","event":"tick","data":{"i":1},"audit_log":[]}`
	for round := 0; round < 10; round++ {
		topic := fmt.Sprintf("dbg-%d-%d", time.Now().UnixNano(), round)
		a, _ := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": bs})
		a.CreateTopics(context.Background(), []kafka.TopicSpecification{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}})
		for {
			d, _ := a.DescribeTopics(context.Background(), kafka.NewTopicCollectionOfTopicNames([]string{topic}))
			if d.TopicDescriptions[0].Error.Code() == kafka.ErrNoError && len(d.TopicDescriptions[0].Partitions) == 3 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		a.Close()
		if os.Getenv("DESCRIBE") != "" {
			pa.DescribeTopics(context.Background(), kafka.NewTopicCollectionOfTopicNames([]string{topic}))
		}
		for i := 0; i < 1000; i++ {
			key := fmt.Sprint("k", i, "-", time.Now().UnixNano())
			p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Key: []byte(key), Value: []byte(val)}, acks)
		}
		invalid := 0
		for i := 0; i < 1000; i++ {
			m := (<-acks).(*kafka.Message)
			if m.TopicPartition.Offset < 0 {
				invalid++
			}
		}
		c, _ := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": bs, "group.id": "x"})
		var hw int64
		for part := int32(0); part < 3; part++ {
			_, h, _ := c.QueryWatermarkOffsets(topic, part, 5000)
			hw += h
		}
		c.Close()
		fmt.Printf("round %d: invalid-offset acks %d, hw sum %d\n", round, invalid, hw)
	}
	pa.Close()
	p.Close()
}
