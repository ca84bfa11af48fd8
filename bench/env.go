package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/kafka-broker/kafka-broker-go/embedded"
)

// env is what every scenario shares: the broker, an admin client, the
// librdkafka overrides and a prefix that makes this run's names unique.
type env struct {
	bootstrap string
	broker    string // what the report calls the broker
	kafka     map[string]any
	admin     *kafka.AdminClient
	prefix    string
	log       *slog.Logger
	verbose   bool
	cpu       *cpuMeter

	child *exec.Cmd
	stdin io.Closer
	start time.Time
}

const serveEmbeddedFlag = "-serve-embedded"

// serveEmbedded runs the embedded broker for the parent bench process: it
// prints the address, then serves until stdin closes.
func serveEmbedded() {
	c, err := embedded.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: embedded broker:", err)
		os.Exit(1)
	}
	fmt.Println(c.BootstrapServers())
	_, _ = io.Copy(io.Discard, os.Stdin)
	c.Close()
}

// newEnv connects to KAFKA_BOOTSTRAP_SERVERS or starts the embedded broker in
// a child process, so its CPU, heap and GC stay out of the measured process,
// as a real broker's would. brokerPID names the process whose CPU is the
// broker's; 0 finds it (the child, or the process listening on the
// bootstrap port).
func newEnv(ctx context.Context, kafkaProps map[string]any, verbose bool, brokerPID int) (*env, error) {
	e := &env{
		kafka:   kafkaProps,
		prefix:  fmt.Sprintf("bench-%x", time.Now().UnixNano()&0xffffff),
		log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		verbose: verbose,
		start:   time.Now(),
	}
	var pidErr error
	if bs := os.Getenv("KAFKA_BOOTSTRAP_SERVERS"); bs != "" {
		e.bootstrap = bs
		e.broker = "external " + bs
		if brokerPID == 0 {
			brokerPID, pidErr = listenerPID(bs)
		}
	} else if err := e.startEmbedded(); err != nil {
		return nil, err
	} else if brokerPID == 0 {
		brokerPID = e.child.Process.Pid
	}
	e.cpu = newCPUMeter(brokerPID, pidErr)
	cfg := configMap(e.bootstrap, nil, e.kafka)
	for k := range *cfg {
		// Only client-wide properties make sense on the admin client.
		if strings.HasPrefix(k, "fetch.") || strings.HasPrefix(k, "linger") || k == "acks" ||
			k == "enable.idempotence" || strings.HasPrefix(k, "queue.buffering") || strings.HasPrefix(k, "batch.") {
			delete(*cfg, k)
		}
	}
	a, err := kafka.NewAdminClient(cfg)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("admin client: %w", err)
	}
	e.admin = a
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if _, err = a.GetMetadata(nil, true, 5000); err == nil {
			return e, nil
		}
		select {
		case <-ctx.Done():
			e.close()
			return nil, fmt.Errorf("broker %s not reachable: %w", e.bootstrap, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *env) startEmbedded() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, serveEmbeddedFlag)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start embedded broker: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = in.Close()
		_ = cmd.Wait()
		return fmt.Errorf("embedded broker did not start: %w", err)
	}
	e.child, e.stdin = cmd, in
	e.bootstrap = strings.TrimSpace(line)
	e.broker = "embedded (franz-go kfake, child process) " + e.bootstrap
	return nil
}

func (e *env) close() {
	if e.admin != nil {
		e.admin.Close()
	}
	if e.child != nil {
		_ = e.stdin.Close()
		done := make(chan struct{})
		go func() { _ = e.child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.child.Process.Kill()
			<-done
		}
	}
}

func (e *env) name(parts ...string) string {
	return e.prefix + "-" + strings.Join(parts, "-")
}

func (e *env) progress(format string, args ...any) {
	if e.verbose {
		fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(e.start).Seconds()}, args...)...)
	}
}

// createTopics creates topics with 3 partitions (the library's default).
func (e *env) createTopics(ctx context.Context, topics ...string) error {
	specs := make([]kafka.TopicSpecification, 0, len(topics))
	for _, t := range topics {
		specs = append(specs, kafka.TopicSpecification{Topic: t, NumPartitions: 3, ReplicationFactor: 1})
	}
	res, err := e.admin.CreateTopics(ctx, specs, kafka.SetAdminOperationTimeout(30*time.Second))
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range res {
		if c := r.Error.Code(); c != kafka.ErrNoError && c != kafka.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Error)
		}
	}
	return e.awaitLeaders(ctx, topics...)
}

// awaitLeaders waits until every partition of topics has a leader.
func (e *env) awaitLeaders(ctx context.Context, topics ...string) error {
	for {
		md, err := e.admin.GetMetadata(nil, true, 5000)
		if err == nil {
			ready := true
			for _, t := range topics {
				tm, ok := md.Topics[t]
				if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
					ready = false
					break
				}
				for _, p := range tm.Partitions {
					if p.Leader < 0 {
						ready = false
					}
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v have no leaders: %w", topics, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteTopics frees what a scenario wrote (the embedded broker keeps it in memory).
func (e *env) deleteTopics(topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.admin.DeleteTopics(ctx, topics); err != nil {
		e.progress("delete topics: %v", err)
	}
}
