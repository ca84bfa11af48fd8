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

// DefaultMaxRedrives bounds how often one record is redriven
// (RedriveOptions.MaxRedrives).
const DefaultMaxRedrives = 3

// DefaultRedriveBatch is how many dead letters one redrive transaction
// carries at most (RedriveOptions.BatchSize).
const DefaultRedriveBatch = 100

// redriveTxnTimeout bounds a redrive transaction: a redriver killed in the
// middle of one holds back read_committed consumers of the partitions it
// wrote to until the next redrive of the topic starts, or this long.
const redriveTxnTimeout = 30 * time.Second

// Why a redrive refuses a dead letter (RedriveOutcome.Reason,
// DeadLetter.Refusal). Force overrides the ones marked so.
const (
	// RefusedCut: the key or value was cut, or the value dropped, to fit
	// the dead-letter topic; what is left is a record of what happened,
	// not a copy to replay. Never redriven.
	RefusedCut = "cut"
	// RefusedHeadersCut: the original headers (reply address, trace
	// context, ...) were cut; the event is whole. Force redrives it.
	RefusedHeadersCut = "headers_cut"
	// RefusedUndecodable: the value is not an event, or the record was
	// dead-lettered as malformed (a Malformed* kind); the service would
	// dead-letter it again. Force sends it as it is (an event with an
	// audit hop, other values unchanged).
	RefusedUndecodable = "undecodable"
	// RefusedUnsolicitedReply: a reply nothing awaited; the service would
	// dead-letter it again. Force redrives it.
	RefusedUnsolicitedReply = "unsolicited_reply"
	// RefusedMaxHops: the redrive hop would take the audit log past
	// MaxHops; the service would dead-letter it as a loop.
	RefusedMaxHops = "max_hops"
	// RefusedMaxRedrives: the record was redriven MaxRedrives times already.
	RefusedMaxRedrives = "max_redrives"
	// RefusedAlreadyRedriven: this dead letter was redriven before (the
	// ledger says so). Force redrives it again.
	RefusedAlreadyRedriven = "already_redriven"
	// RefusedTarget: the topic it would go to is not allowed (see
	// RedriveOptions.AllowTo) or not known.
	RefusedTarget = "target"
)

// RedriveStatus is what a redrive did with a dead letter.
type RedriveStatus string

// Statuses of RedriveOutcome.
const (
	RedriveRedriven     RedriveStatus = "redriven"      // sent, and recorded in the ledger
	RedriveWouldRedrive RedriveStatus = "would_redrive" // DryRun: it would have been sent
	RedriveRefused      RedriveStatus = "refused"       // see Reason
	RedriveFailed       RedriveStatus = "failed"        // the send failed; see Err
	RedriveSkipped      RedriveStatus = "skipped"       // the filter did not match it
)

// RedriveOptions say what Redrive sends where.
type RedriveOptions struct {
	// Filter selects the dead letters to redrive; the others are skipped and
	// stay as redrivable as they were.
	Filter DeadLetterFilter
	// To sends every dead letter there instead of its original topic. It
	// must match AllowTo.
	To string
	// AllowTo lists the topics, besides the Location's own, that a dead
	// letter may be sent to: names, or prefixes ending in "*". A dead
	// letter goes to its original topic (HeaderDLTOriginalTopic) when that
	// is the Location or matches AllowTo, and is refused otherwise. Never
	// allowed, whatever the list: a dead-letter topic ("*.dlq"), a redrive
	// ledger ("*.redrive") or an internal topic ("__*").
	AllowTo []string
	// Force overrides the refusals that say so (undecodable, headers cut,
	// unsolicited reply, already redriven). It never redrives a cut record
	// or one past MaxRedrives or MaxHops.
	Force bool
	// DryRun decides what would be done and reports it, writing nothing:
	// no record, no ledger entry, no position.
	DryRun bool
	// MaxRedrives bounds how often one record may be redriven (counted by
	// HeaderDLTRedriveCount, which each redrive increments). Default
	// DefaultMaxRedrives.
	MaxRedrives int
	// MaxHops is the services' Config.MaxHops: a dead letter whose audit log
	// would grow past it is refused. Default: the Config's.
	MaxHops int
	// Job names the saved position (see Redrive). Default: one derived from
	// Filter, To, AllowTo, Force, MaxRedrives and MaxHops.
	Job string
	// Restart reads the topic from its start instead of the position the
	// last run of the same job saved.
	Restart bool
	// BatchSize is how many dead letters one transaction carries at most.
	// Default DefaultRedriveBatch.
	BatchSize int
	// OnEntry, when set, is called with every dead letter read, once its
	// outcome is final: a redriven one after its transaction committed. It
	// runs on the redrive's goroutine; Redrive waits for it.
	OnEntry func(RedriveOutcome)
}

// RedriveOutcome is what happened to one dead letter.
type RedriveOutcome struct {
	DeadLetter *DeadLetter
	Status     RedriveStatus
	// Reason is the Refused* code of a refused dead letter; Detail says why
	// for people, and how to override it when Force can.
	Reason string
	Detail string
	// To is where it was (or would be) sent.
	To string
	// Forced: Force overrode a refusal.
	Forced bool
	// Err is why the send failed.
	Err error
	// Read counts the dead letters read so far in this run, out of Total.
	Read, Total int
}

// RedriveCounts are the outcomes of one kind of dead letter.
type RedriveCounts struct {
	Redriven     int `json:"redriven"`
	WouldRedrive int `json:"would_redrive,omitempty"`
	Refused      int `json:"refused"`
	Failed       int `json:"failed"`
}

// RedriveResult sums up a redrive.
type RedriveResult struct {
	// Topic is the dead-letter topic; Job and Group name the job and the
	// consumer group its position is saved in.
	Topic string `json:"topic"`
	Job   string `json:"job"`
	Group string `json:"group"`
	// DryRun: nothing was written.
	DryRun bool `json:"dry_run"`
	// Resumed: the run started at a position a previous run of the job saved.
	Resumed bool `json:"resumed"`
	// Interrupted: ctx ended before the end of the topic; the transaction
	// in progress was aborted, and a run of the same job resumes.
	Interrupted bool `json:"interrupted"`
	// Read counts dead letters read; each was skipped (the filter did not
	// match), redriven (or would be, in a dry run), refused or failed, or
	// in the transaction an interruption aborted.
	Read         int `json:"read"`
	Skipped      int `json:"skipped"`
	Redriven     int `json:"redriven"`
	WouldRedrive int `json:"would_redrive,omitempty"`
	Refused      int `json:"refused"`
	Failed       int `json:"failed"`
	// ByKind counts the outcomes by dead-letter kind; Refusals counts the
	// refusals by reason.
	ByKind   map[string]*RedriveCounts `json:"by_kind"`
	Refusals map[string]int            `json:"refusals"`
}

func (r *RedriveResult) count(kind string, s RedriveStatus) {
	if kind == "" {
		kind = "unknown"
	}
	c := r.ByKind[kind]
	if c == nil {
		c = &RedriveCounts{}
		r.ByKind[kind] = c
	}
	switch s {
	case RedriveRedriven:
		r.Redriven++
		c.Redriven++
	case RedriveWouldRedrive:
		r.WouldRedrive++
		c.WouldRedrive++
	case RedriveRefused:
		r.Refused++
		c.Refused++
	case RedriveFailed:
		r.Failed++
		c.Failed++
	}
}

// checks are the refusals that depend on the dead letter alone.
type checks struct {
	maxHops, maxRedrives int
}

func defaultChecks(cfg Config) checks {
	return checks{maxHops: cfg.MaxHops, maxRedrives: DefaultMaxRedrives}
}

// refusal says why d must not be redriven, "" when it may; force overrides
// what it can.
func (c checks) refusal(d *DeadLetter, force bool) (code, detail string) {
	if d.Cut() {
		what := strings.Join(d.Truncated, ", ")
		if d.ValueDropped != "" {
			what = "value dropped (" + d.ValueDropped + ")"
		}
		return RefusedCut, fmt.Sprintf("the dead letter was cut to fit the dead-letter topic (%s; the original record had %d bytes): it records what happened but is no copy to replay", what, d.OriginalSize)
	}
	if d.Event == nil || isMalformedKind(d.Kind) {
		if !force {
			why := d.DecodeError
			if why == "" {
				why = "it was dead-lettered as malformed (" + d.Kind + ")"
			}
			return RefusedUndecodable, "the service cannot decode it: " + why + "; a redrive would only dead-letter it again (--force sends it as it is)"
		}
	}
	if d.HeadersCut() && !force {
		return RefusedHeadersCut, "its original headers (reply address, trace context, ...) were cut to fit the dead-letter topic; the event is whole (--force redrives it without them)"
	}
	if d.Kind == DeadLetterUnsolicitedReply && !force {
		return RefusedUnsolicitedReply, "a reply nothing awaited: the service would dead-letter it again (--force redrives it)"
	}
	if d.Event != nil && c.maxHops > 0 && len(d.Event.AuditLog)+1 > c.maxHops {
		return RefusedMaxHops, fmt.Sprintf("its audit log has %d hops; the redrive hop would exceed MaxHops (%d)", len(d.Event.AuditLog), c.maxHops)
	}
	if c.maxRedrives > 0 && d.RedriveCount >= c.maxRedrives {
		return RefusedMaxRedrives, fmt.Sprintf("the record was redriven %s already (at most %d; raise it with --max-redrives)", times(d.RedriveCount), c.maxRedrives)
	}
	if r := d.Redriven; r != nil && !force {
		return RefusedAlreadyRedriven, fmt.Sprintf("redriven to %s at %s (%s); --force redrives it again", r.To, r.At.UTC().Format(time.RFC3339), times(r.Times))
	}
	return "", ""
}

// times words a count of redrives.
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

func isMalformedKind(kind string) bool { return slices.Contains(malformedKinds[:], kind) }

// topicAllowed reports whether topic matches one of the patterns: a name,
// or a prefix ending in "*".
func topicAllowed(topic string, patterns []string) bool {
	for _, p := range patterns {
		if p == topic || (strings.HasSuffix(p, "*") && strings.HasPrefix(topic, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// forbiddenTarget says why no redrive may write to topic, "" when it may.
func forbiddenTarget(topic string) string {
	switch {
	case strings.HasSuffix(topic, ".dlq"):
		return "a dead-letter topic"
	case strings.HasSuffix(topic, ".redrive"):
		return "a redrive ledger"
	case strings.HasPrefix(topic, "__"):
		return "an internal topic"
	}
	return ""
}

func (o *RedriveOptions) setDefaults(cfg Config) {
	if o.MaxRedrives == 0 {
		o.MaxRedrives = DefaultMaxRedrives
	}
	if o.MaxHops == 0 {
		o.MaxHops = cfg.MaxHops
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultRedriveBatch
	}
}

func (o RedriveOptions) validate() error {
	if o.MaxRedrives < 0 {
		return errors.New("kafka-broker: redrive: MaxRedrives must not be negative")
	}
	for _, p := range o.AllowTo {
		if p == "*" || (strings.HasSuffix(p, "*") && ValidTopic(strings.TrimSuffix(p, "*"))) || ValidTopic(p) {
			continue
		}
		return fmt.Errorf("kafka-broker: redrive: AllowTo: %q is not a topic name or a prefix pattern (name*)", p)
	}
	if o.To != "" {
		switch {
		case !ValidTopic(o.To):
			return fmt.Errorf("kafka-broker: redrive: To: invalid topic name %q", o.To)
		case forbiddenTarget(o.To) != "":
			return fmt.Errorf("kafka-broker: redrive: To: %s is %s; redrives never write there", o.To, forbiddenTarget(o.To))
		case !topicAllowed(o.To, o.AllowTo):
			return fmt.Errorf("kafka-broker: redrive: To: %s is not in the allow-list (AllowTo, --allow-to)", o.To)
		}
	}
	return nil
}

// jobName describes the options that decide what a run does, the ones
// left at their zero value out.
func (o RedriveOptions) jobName() string {
	if o.Job != "" {
		return o.Job
	}
	var parts []string
	add := func(k string, v string) {
		if v != "" {
			parts = append(parts, k+"="+strconv.Quote(v))
		}
	}
	sorted := func(list []string) string {
		l := slices.Clone(list)
		slices.Sort(l)
		return strings.Join(l, ",")
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	f := o.Filter
	add("kind", sorted(f.Kinds))
	add("error", f.Error)
	add("event", sorted(f.Events))
	add("since", when(f.Since))
	add("until", when(f.Until))
	add("correlation-id", f.CorrelationID)
	add("to", o.To)
	add("allow-to", sorted(o.AllowTo))
	if o.Force {
		parts = append(parts, "force")
	}
	parts = append(parts, fmt.Sprintf("max-redrives=%d", o.MaxRedrives), fmt.Sprintf("max-hops=%d", o.MaxHops))
	return strings.Join(parts, " ")
}

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
	if err := p.InitTransactions(ctx); err != nil {
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

// add produces it's records in the transaction, starting one when none is open.
func (r *redriveRun) add(ctx context.Context, it *redriveItem) error {
	if !r.inTxn {
		if err := r.begin(); err != nil {
			return err
		}
	}
	r.batch = append(r.batch, it)
	r.produce(ctx, it)
	return nil
}

func (r *redriveRun) begin() error {
	if err := r.prod.BeginTransaction(); err != nil {
		return errorf("kafka-broker: redrive: begin transaction: %w", err)
	}
	r.inTxn = true
	r.dr = make(chan kafka.Event, 2*r.o.BatchSize+2)
	r.sent = 0
	return nil
}

// produce enqueues it's records; a record librdkafka refuses at once marks it failed.
func (r *redriveRun) produce(ctx context.Context, it *redriveItem) {
	for _, m := range it.msgs {
		cp := *m
		cp.Opaque = it
		for {
			err := r.prod.Produce(&cp, r.dr)
			var ke kafka.Error
			if errors.As(err, &ke) && ke.Code() == kafka.ErrQueueFull && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond) // the queue drains as the brokers acknowledge
				continue
			}
			if err != nil {
				it.err = errorf("kafka-broker: redrive to %s: %w", *m.TopicPartition.Topic, err)
				return
			}
			r.sent++
			break
		}
	}
}

// commit ends the transaction in progress: the batch's records, their
// ledger entries and the position. Items whose records failed are taken
// out (counted as failed, their partition's position held before them) and
// the rest sent again in a new transaction.
func (r *redriveRun) commit(ctx context.Context) error {
	if r.o.DryRun || (!r.inTxn && !r.dirty) {
		return nil
	}
	for aborts := 0; ; {
		if !r.inTxn {
			if err := r.begin(); err != nil {
				return err
			}
			for _, it := range r.batch {
				r.produce(ctx, it)
			}
		}
		if err := r.awaitDeliveries(ctx); err != nil {
			return err
		}
		var ok []*redriveItem
		for _, it := range r.batch {
			if it.err == nil {
				ok = append(ok, it)
			}
		}
		if len(ok) < len(r.batch) {
			r.abort()
			for _, it := range r.batch {
				if it.err != nil {
					r.fail(it.dl, it.to, it.err)
				}
			}
			r.batch = ok
			continue
		}
		err := r.endTxn(context.WithoutCancel(ctx))
		if err == nil {
			break
		}
		var ke kafka.Error
		if errors.As(err, &ke) && ke.TxnRequiresAbort() && aborts < 3 && ctx.Err() == nil {
			aborts++
			r.d.log.Warn("kafka-broker: redrive transaction aborted; retrying it", "topic", r.d.topic, "error", err)
			r.abort()
			continue
		}
		r.abort()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, it := range r.batch {
			r.fail(it.dl, it.to, err)
		}
		r.batch = nil
		return errorf("kafka-broker: redrive: commit: %w", err)
	}
	for _, it := range r.batch {
		r.ledger[ledgerKey(it.dl.Partition, it.dl.Offset)] = it.rec
		it.dl.Redriven = it.rec
		r.res.count(it.dl.Kind, RedriveRedriven)
		r.record(it.dl.Kind, RedriveRedriven)
		r.d.log.Debug("kafka-broker: redriven", "topic", r.d.topic, "partition", it.dl.Partition, "offset", it.dl.Offset,
			"kind", it.dl.Kind, "event", it.dl.EventName(), "correlation_id", it.dl.CorrelationID, "to", it.to, "forced", it.forced)
		r.emit(RedriveOutcome{DeadLetter: it.dl, Status: RedriveRedriven, To: it.to, Forced: it.forced})
	}
	r.batch = nil
	return nil
}

// awaitDeliveries waits for the delivery report of every record produced in
// the transaction, and marks the items whose records failed.
func (r *redriveRun) awaitDeliveries(ctx context.Context) error {
	for ; r.sent > 0; r.sent-- {
		select {
		case e := <-r.dr:
			m, ok := e.(*kafka.Message)
			if !ok {
				continue
			}
			if it, ok := m.Opaque.(*redriveItem); ok && m.TopicPartition.Error != nil && it.err == nil {
				it.err = errorf("kafka-broker: redrive to %s: %w", *m.TopicPartition.Topic, deliveryError(m))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// endTxn saves the position in the transaction and commits it. Once begun,
// a commit is not interrupted: ctx carries no cancellation, only a bound.
func (r *redriveRun) endTxn(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redriveTxnTimeout)
	defer cancel()
	var offsets []kafka.TopicPartition
	for p, off := range r.next {
		if l, ok := r.limit[p]; ok && l < off {
			off = l
		}
		offsets = append(offsets, kafka.TopicPartition{Topic: &r.d.topic, Partition: p, Offset: kafka.Offset(off)})
	}
	md, err := r.cons.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	if err := r.prod.SendOffsetsToTransaction(ctx, offsets, md); err != nil {
		return err
	}
	for {
		err := r.prod.CommitTransaction(ctx)
		var ke kafka.Error
		if err != nil && errors.As(err, &ke) && ke.IsRetriable() && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return err
		}
		r.inTxn, r.dirty = false, false
		return nil
	}
}

// abort aborts the transaction in progress; its records stay invisible to
// read_committed consumers.
func (r *redriveRun) abort() {
	if !r.inTxn {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), redriveTxnTimeout)
	defer cancel()
	if err := r.prod.AbortTransaction(ctx); err != nil {
		r.d.log.Warn("kafka-broker: redrive: abort transaction", "topic", r.d.topic, "error", err)
	}
	r.inTxn = false
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

// ensureLedger creates the ledger topic, compacted, when it is missing.
func (d *DeadLetters) ensureLedger(ctx context.Context) error {
	if _, err := d.describe(ctx, d.ledger); err == nil {
		return nil
	} else if !errors.Is(err, ErrUnknownTopic) {
		return err
	}
	rf := d.cfg.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeoutMs(ctx, 30*time.Second))*time.Millisecond)
	defer cancel()
	res, err := d.admin.CreateTopics(ctx, []kafka.TopicSpecification{{
		Topic: d.ledger, NumPartitions: 1, ReplicationFactor: rf,
		Config: map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil {
		return errorf("kafka-broker: create the redrive ledger %s: %w", d.ledger, err)
	}
	if c := res[0].Error.Code(); c != kafka.ErrNoError && c != kafka.ErrTopicAlreadyExists {
		return errorf("kafka-broker: create the redrive ledger %s: %w", d.ledger, res[0].Error)
	}
	d.log.Info("kafka-broker: created topic", "topic", d.ledger, "cleanup.policy", "compact")
	for {
		_, err := d.describe(ctx, d.ledger)
		if err == nil || !errors.Is(err, ErrUnknownTopic) {
			return err
		}
		select {
		case <-ctx.Done():
			return errorf("kafka-broker: the redrive ledger %s was created but is not known yet: %w", d.ledger, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
