package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// redriveTxnTimeout bounds a redrive transaction: a redriver killed in the
// middle of one holds back read_committed consumers of the partitions it
// wrote to until the next redrive of the topic starts, or this long.
const redriveTxnTimeout = 30 * time.Second

// Redrive sends the dead letters that opts select back to their original
// topic (or opts.To), and reports what it did. Each goes as its event with
// the correlation ID (record key and JSON) and the original headers kept,
// an audit entry appended whose location is the dead-letter topic, and the
// headers HeaderDLTRedriveCount (one more than before) and
// HeaderDLTRedriveSource. Values that are not events are refused, or with
// Force sent unchanged. Redrive reads the topic up to its end when it
// started, so records dead-lettered during the run wait for the next one.
//
// Each redrive is recorded in a compacted ledger topic, "<dead-letter
// topic>.redrive" (created when missing), keyed by "<partition>/<offset>":
// a dead letter the ledger names is refused unless Force. The position the
// run reached is saved in a consumer group of the job (named in the
// result); a run of the same job resumes from it, unless Restart. The
// redriven records, their ledger entries and the position are written in
// one Kafka transaction per batch, so a run that is interrupted, or a
// process that is killed, leaves either all of a batch or none of it
// visible to read_committed consumers (librdkafka's default; Java's is
// read_uncommitted). Transactions are per dead-letter topic: a redrive that
// starts fences one still running on the same topic, whose next commit fails.
//
// The result is returned also with an error: the counts of what was done.
// An interrupted run (ctx ended) returns ctx's error with
// RedriveResult.Interrupted set. Failed sends are counted, not returned as
// the error; the position is not saved past the first failure of a
// partition, so the next run of the job retries it.
func (d *DeadLetters) Redrive(ctx context.Context, opts RedriveOptions) (*RedriveResult, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	opts.setDefaults(d.cfg)
	if err := opts.validate(); err != nil {
		return nil, err
	}
	cf, err := opts.Filter.compile()
	if err != nil {
		return nil, err
	}
	job := opts.jobName()
	sum := sha256.Sum256([]byte(job))
	res := &RedriveResult{
		Topic:    d.topic,
		Job:      job,
		Group:    "kafka-broker-redrive." + d.topic + "." + hex.EncodeToString(sum[:8]),
		DryRun:   opts.DryRun,
		ByKind:   map[string]*RedriveCounts{},
		Refusals: map[string]int{},
	}
	r := &redriveRun{
		d: d, o: opts, res: res, cf: cf,
		checks: checks{maxHops: opts.MaxHops, maxRedrives: opts.MaxRedrives},
		topics: newTopicDirectory(describeWith(d.admin)),
		next:   map[int32]int64{},
		limit:  map[int32]int64{},
	}
	err = r.run(ctx)
	if ctx.Err() != nil && err != nil && errors.Is(err, ctx.Err()) {
		res.Interrupted = true
	}
	r.logSummary(err)
	return res, err
}

// redriveRun is one call of Redrive.
type redriveRun struct {
	d      *DeadLetters
	o      RedriveOptions
	res    *RedriveResult
	cf     *compiledFilter
	checks checks

	topics   *topicDirectory // what this run learned of target topics
	layout   topicLayout
	ledger   map[string]*RedriveRecord
	prod     *kafka.Producer
	prodDone chan struct{} // drainProducer ended
	cons     *kafka.Consumer

	inTxn bool
	batch []*redriveItem
	dr    chan kafka.Event // delivery reports of the transaction in progress
	sent  int              // records produced in it
	next  map[int32]int64  // the next offset to read, per partition
	limit map[int32]int64  // the first offset that failed, per partition
	dirty bool             // next moved since the last commit

	total int
}

// redriveItem is a dead letter in the transaction in progress.
type redriveItem struct {
	dl     *DeadLetter
	to     string
	forced bool
	rec    *RedriveRecord
	msgs   [2]*kafka.Message // the redriven record and its ledger entry
	err    error
}

func (r *redriveRun) run(ctx context.Context) (err error) {
	d := r.d
	if r.layout, err = d.describe(ctx, d.topic); err != nil {
		return err
	}
	if !r.o.DryRun {
		if err := d.ensureLedger(ctx); err != nil {
			return err
		}
		if err := r.startProducer(ctx); err != nil {
			return err
		}
		defer r.closeProducer()
	}
	// Read after InitTransactions: a redriver that ran until now is fenced
	// and its open transaction aborted, so the ledger is complete.
	if r.ledger, err = d.readLedger(ctx, r.layout.id); err != nil {
		return err
	}
	if r.cons, err = d.newReader(r.res.Group); err != nil {
		return err
	}
	defer r.cons.Close()
	from, err := r.savedPosition(ctx)
	if err != nil {
		return err
	}
	ss, err := ranges(ctx, r.cons, d.topic, r.layout.partitions, from)
	if err != nil {
		return err
	}
	for _, s := range ss {
		r.total += int(max(s.end-s.start, 0))
	}
	d.log.Info("kafka-broker: redrive starting", "topic", d.topic, "group", r.res.Group, "resumed", r.res.Resumed,
		"to_read", r.total, "dry_run", r.o.DryRun, "force", r.o.Force)
	err = scan(ctx, r.cons, d.topic, ss, func(msg *kafka.Message) error {
		return r.handle(ctx, msg)
	}, func() error {
		if len(r.batch) > 0 {
			return r.commit(ctx)
		}
		return nil
	})
	if err == nil {
		err = r.commit(ctx)
	}
	if err != nil && r.inTxn {
		r.abort()
	}
	return err
}

// savedPosition returns the job's saved offsets, unless Restart.
func (r *redriveRun) savedPosition(ctx context.Context) (map[int32]int64, error) {
	if r.o.Restart {
		return nil, nil
	}
	tps := make([]kafka.TopicPartition, 0, len(r.layout.partitions))
	for _, p := range r.layout.partitions {
		tps = append(tps, kafka.TopicPartition{Topic: &r.d.topic, Partition: p})
	}
	committed, err := r.cons.Committed(tps, timeoutMs(ctx, 30*time.Second))
	var ke kafka.Error
	if errors.As(err, &ke) && ke.Code() == kafka.ErrGroupIDNotFound {
		return nil, nil // no run of this job saved a position
	}
	if err != nil {
		return nil, errorf("kafka-broker: redrive: read the saved position of group %s: %w", r.res.Group, err)
	}
	from := map[int32]int64{}
	for _, tp := range committed {
		if tp.Error == nil && tp.Offset >= 0 {
			from[tp.Partition] = int64(tp.Offset)
			r.res.Resumed = true
		}
	}
	return from, nil
}

func (r *redriveRun) startProducer(ctx context.Context) error {
	d := r.d
	maxMsg := max(1_000_000, d.cfg.MaxRecordBytes+64<<10)
	p, err := kafka.NewProducer(d.clientConfig(kafka.ConfigMap{
		"transactional.id":         "kafka-broker-redrive." + d.topic,
		"transaction.timeout.ms":   int(redriveTxnTimeout / time.Millisecond),
		"enable.idempotence":       true,
		"acks":                     "all",
		"allow.auto.create.topics": false,
		"message.max.bytes":        maxMsg,
		"go.events.channel.size":   1000,
	}))
	if err != nil {
		return errorf("kafka-broker: redrive: create producer: %w", err)
	}
	r.prod = p
	r.prodDone = make(chan struct{})
	go r.drainProducer()
	if err := untilDecided(ctx, p.InitTransactions); err != nil {
		return errorf("kafka-broker: redrive: start transactions (transactional.id kafka-broker-redrive.%s, brokers %s): %w",
			d.topic, d.cfg.BootstrapServers, err)
	}
	return nil
}

// drainProducer logs the producer's errors (delivery reports go to the
// channel of each transaction); it ends when the producer is closed.
func (r *redriveRun) drainProducer() {
	defer close(r.prodDone)
	for e := range r.prod.Events() {
		if ke, ok := e.(kafka.Error); ok {
			r.d.log.Debug("kafka-broker: redrive producer", "error", ke)
		}
	}
}

func (r *redriveRun) closeProducer() {
	r.prod.Close()
	<-r.prodDone
}

// handle decides what becomes of one dead letter.
func (r *redriveRun) handle(ctx context.Context, msg *kafka.Message) error {
	r.res.Read++
	dl := decodeDeadLetter(msg)
	r.next[dl.Partition] = dl.Offset + 1
	r.dirty = true
	if !r.cf.match(dl) {
		r.res.Skipped++
		r.emit(RedriveOutcome{DeadLetter: dl, Status: RedriveSkipped})
		return nil
	}
	dl.Redriven = r.ledger[ledgerKey(dl.Partition, dl.Offset)]
	code, detail := r.checks.refusal(dl, r.o.Force)
	if code == "" {
		dl.Refusal, dl.RefusalDetail = r.checks.refusal(dl, false)
	} else {
		dl.Refusal, dl.RefusalDetail = code, detail
	}
	if code != "" {
		r.refuse(dl, code, detail, "")
		return nil
	}
	to, code, detail := r.target(dl)
	if code != "" {
		r.refuse(dl, code, detail, to)
		return nil
	}
	if _, err := r.topics.require(ctx, to); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(dl, to, errorf("kafka-broker: redrive to %s: %w", to, err))
		return nil
	}
	forced := dl.Refusal != ""
	if r.o.DryRun {
		r.res.count(dl.Kind, RedriveWouldRedrive)
		r.emit(RedriveOutcome{DeadLetter: dl, Status: RedriveWouldRedrive, To: to, Forced: forced})
		return nil
	}
	it, err := r.item(dl, to, forced)
	if err != nil {
		r.fail(dl, to, err)
		return nil
	}
	if err := r.add(ctx, it); err != nil {
		return err
	}
	if len(r.batch) >= r.o.BatchSize {
		return r.commit(ctx)
	}
	return nil
}

// target is where dl goes, or why it may not.
func (r *redriveRun) target(dl *DeadLetter) (to, code, detail string) {
	if r.o.To != "" {
		return r.o.To, "", "" // checked by validate
	}
	to = dl.OriginalTopic
	switch {
	case to == "":
		return "", RefusedTarget, "the dead letter does not name its original topic (" + HeaderDLTOriginalTopic + "); send it with --to"
	case !ValidTopic(to):
		return to, RefusedTarget, fmt.Sprintf("its original topic %q is not a valid topic name", to)
	case forbiddenTarget(to) != "":
		return to, RefusedTarget, fmt.Sprintf("its original topic %s is %s; redrives never write there", to, forbiddenTarget(to))
	case to != r.d.cfg.Location && !topicAllowed(to, r.o.AllowTo):
		return to, RefusedTarget, fmt.Sprintf("its original topic %s is not the Location %s; allow it with --allow-to %s", to, r.d.cfg.Location, to)
	}
	return to, "", ""
}

// item builds the records that redrive dl.
func (r *redriveRun) item(dl *DeadLetter, to string, forced bool) (*redriveItem, error) {
	now := time.Now()
	value := dl.value
	if dl.Event != nil {
		// The redrive hop: its location is the dead-letter topic.
		v, err := stampSent(dl.Event, r.d.topic, now).MarshalJSON()
		if err != nil {
			return nil, errorf("kafka-broker: redrive: encode event %q: %w", dl.Event.Event, err)
		}
		value = v
	}
	key := dl.key
	if len(key) == 0 && dl.CorrelationID != "" {
		key = []byte(dl.CorrelationID)
	}
	headers := make([]kafka.Header, 0, len(dl.headers)+2)
	for _, h := range dl.headers {
		if !strings.HasPrefix(h.Key, "kafka_dlt-") {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kafka.Header{Key: HeaderDLTRedriveCount, Value: []byte(strconv.Itoa(dl.RedriveCount + 1))},
		kafka.Header{Key: HeaderDLTRedriveSource, Value: []byte(fmt.Sprintf("%s/%d@%d", r.d.topic, dl.Partition, dl.Offset))})
	rec := &RedriveRecord{
		Times: 1, At: now.UTC(), To: to, Forced: forced, Job: r.res.Job,
		Topic: r.d.topic, Partition: dl.Partition, Offset: dl.Offset, TopicID: r.layout.id,
		Kind: dl.Kind, CorrelationID: dl.CorrelationID,
	}
	if dl.Redriven != nil {
		rec.Times = dl.Redriven.Times + 1
	}
	lv, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	it := &redriveItem{dl: dl, to: to, forced: forced, rec: rec}
	toTopic, ledger := to, r.d.ledger
	it.msgs[0] = &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &toTopic, Partition: kafka.PartitionAny},
		Key:            key, Value: value, Headers: headers,
	}
	it.msgs[1] = &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &ledger, Partition: kafka.PartitionAny},
		Key:            []byte(ledgerKey(dl.Partition, dl.Offset)), Value: lv,
	}
	return it, nil
}

func (r *redriveRun) refuse(dl *DeadLetter, code, detail, to string) {
	r.res.Refusals[code]++
	r.res.count(dl.Kind, RedriveRefused)
	if !r.o.DryRun {
		r.record(dl.Kind, RedriveRefused)
	}
	r.d.log.Debug("kafka-broker: redrive refused", "topic", r.d.topic, "partition", dl.Partition, "offset", dl.Offset,
		"kind", dl.Kind, "reason", code, "detail", detail)
	r.emit(RedriveOutcome{DeadLetter: dl, Status: RedriveRefused, Reason: code, Detail: detail, To: to})
}

func (r *redriveRun) fail(dl *DeadLetter, to string, err error) {
	if l, ok := r.limit[dl.Partition]; !ok || dl.Offset < l {
		r.limit[dl.Partition] = dl.Offset
	}
	r.res.count(dl.Kind, RedriveFailed)
	if !r.o.DryRun {
		r.record(dl.Kind, RedriveFailed)
	}
	r.d.log.Warn("kafka-broker: redrive failed", "topic", r.d.topic, "partition", dl.Partition, "offset", dl.Offset,
		"kind", dl.Kind, "to", to, "error", err)
	r.emit(RedriveOutcome{DeadLetter: dl, Status: RedriveFailed, To: to, Err: err})
}

func (r *redriveRun) emit(o RedriveOutcome) {
	if r.o.OnEntry == nil {
		return
	}
	o.Read, o.Total = r.res.Read, r.total
	r.o.OnEntry(o)
}

// record counts an outcome in the kafka_broker.dlq.redrives metric.
func (r *redriveRun) record(kind string, s RedriveStatus) {
	if kind == "" {
		kind = "unknown"
	}
	r.d.redrives.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("kind", kind), attribute.String("outcome", string(s)),
		attribute.String("messaging.destination.name", r.d.topic)))
}

func (r *redriveRun) logSummary(err error) {
	res := r.res
	attrs := []any{"topic", res.Topic, "read", res.Read, "skipped", res.Skipped, "redriven", res.Redriven,
		"refused", res.Refused, "failed", res.Failed, "dry_run", res.DryRun, "resumed", res.Resumed}
	kinds := make([]string, 0, len(res.ByKind))
	for k := range res.ByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		c := res.ByKind[k]
		attrs = append(attrs, "kind."+k, fmt.Sprintf("redriven=%d refused=%d failed=%d", c.Redriven+c.WouldRedrive, c.Refused, c.Failed))
	}
	switch {
	case res.Interrupted:
		r.d.log.Warn("kafka-broker: redrive interrupted; a run of the same job resumes", attrs...)
	case err != nil:
		r.d.log.Error("kafka-broker: redrive stopped", append(attrs, "error", err)...)
	default:
		r.d.log.Info("kafka-broker: redrive done", attrs...)
	}
}
