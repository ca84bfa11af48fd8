package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
)

const dlqUsageText = `Usage: kafka-broker dlq <command> <location> [flags]

Lists, shows and redrives the dead letters of the service whose Location is
<location>: the records of <location>.dlq (--topic names another topic).

Commands:
  list     print the dead letters, filtered (a table on a terminal, JSON lines when piped)
  show     print one dead letter in full: dlq show <location> <partition>/<offset>
  redrive  send dead letters back to their topic, once each

Run 'kafka-broker dlq <command> --help' for its flags.

Examples:
  kafka-broker dlq list orders --kind handler --since 2h
  kafka-broker dlq show orders 0/17
  kafka-broker dlq redrive orders --kind handler --dry-run
  kafka-broker dlq redrive orders --kind handler
`

func runDLQ(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, dlqUsageText)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, dlqUsageText)
		return ExitOK
	case "list":
		return runDLQList(ctx, env, args[1:])
	case "show":
		return runDLQShow(ctx, env, args[1:])
	case "redrive":
		return runDLQRedrive(ctx, env, args[1:])
	}
	fmt.Fprintf(env.Stderr, "kafka-broker dlq: unknown command %q (list, show or redrive)\nRun 'kafka-broker dlq --help' for usage.\n", args[0])
	return ExitUsage
}

const dlqFilterHelp = `
Filters (all that are given must match):
  --kind handler,no_route   kinds of dead letters: handler, no_route, loop, invalid,
                            reply_refused, unsolicited_reply, and the malformed records'
                            not_json, not_object, field_type, too_large, empty_event
  --error text              the error contains text (ignoring case)
  --event pattern           the routing key matches, with the wildcards of router binds:
                            "*" one segment, "#" zero or more (order.*, order.#)
  --since, --until when     dead-lettered at or after --since and before --until: a time
                            (2026-12-01T12:00:00Z, 2026-12-01 12:00, 2026-12-01; local time
                            unless a zone is given) or a duration ago (90m, 24h, 7d)
  --correlation-id id       the event's correlation ID (or the record key)`

// dlqFlags are the flags every dlq command has.
type dlqFlags struct {
	conn   connFlags
	topic  string
	format formatFlag
}

func (f *dlqFlags) register(fs *flagSet) {
	f.format = "auto"
	fs.StringVar(&f.topic, "topic", "", "the dead-letter `topic` (default <location>.dlq)")
	fs.Var(&f.format, "format", "output `format`: human, json (one JSON object per line), or auto: human on a terminal, json when piped")
	f.conn.register(fs)
}

// open connects to the dead-letter topic of location.
func (f *dlqFlags) open(ctx context.Context, env Env, location string, maxHops int) (*core.DeadLetters, error) {
	if err := checkTopic(location); err != nil {
		return nil, err
	}
	if f.topic == "" {
		f.topic = location + ".dlq"
	}
	if err := checkTopic(f.topic); err != nil {
		return nil, usagef("--topic: %v", err)
	}
	if err := f.conn.reach(ctx, env); err != nil {
		return nil, err
	}
	return core.OpenDeadLetters(core.Config{
		BootstrapServers: f.conn.servers(env),
		Location:         location,
		DeadLetterTopic:  f.topic,
		MaxHops:          maxHops,
		Kafka:            f.conn.kafkaProps(env),
	}, core.WithLogger(f.conn.logger(env)))
}

// filterFlags are the flags that select dead letters.
type filterFlags struct {
	kinds        stringsFlag
	errText      string
	events       stringsFlag
	since, until string
	id           string
}

func (f *filterFlags) register(fs *flagSet) {
	fs.Var(&f.kinds, "kind", "dead letters of these `kinds`, comma-separated or repeated")
	fs.StringVar(&f.errText, "error", "", "dead letters whose error contains `text` (ignoring case)")
	fs.Var(&f.events, "event", "dead letters whose routing key matches `pattern` (* one segment, # any); repeatable")
	fs.StringVar(&f.since, "since", "", "dead-lettered at or after `when`: a time or a duration ago (24h)")
	fs.StringVar(&f.until, "until", "", "dead-lettered before `when`: a time or a duration ago")
	fs.StringVar(&f.id, "correlation-id", "", "the dead letter of the event with this correlation `ID`")
}

func (f *filterFlags) filter(now time.Time) (core.DeadLetterFilter, error) {
	var out core.DeadLetterFilter
	for _, k := range f.kinds {
		for _, s := range strings.Split(k, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out.Kinds = append(out.Kinds, s)
			}
		}
	}
	out.Error = f.errText
	for _, e := range f.events {
		if err := checkEvent(e); err != nil {
			return out, usagef("--event %q: %v", e, err)
		}
		out.Events = append(out.Events, e)
	}
	var err error
	if out.Since, err = parseWhen(f.since, now); err != nil {
		return out, usagef("--since: %v", err)
	}
	if out.Until, err = parseWhen(f.until, now); err != nil {
		return out, usagef("--until: %v", err)
	}
	out.CorrelationID = f.id
	if err := out.Validate(); err != nil {
		return out, usagef("%v", err)
	}
	return out, nil
}

// parseWhen reads a point in time: RFC 3339, a local date and time, a date,
// or a duration before now (Go's units, and d for days).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration ago must not be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a time (2026-12-01T12:00:00Z, 2026-12-01 12:00, 2026-12-01) nor a duration ago (90m, 24h, 7d)", s)
}

const dlqListAbout = `
Prints the dead letters of the service whose Location is <location>, from
the start of its dead-letter topic (<location>.dlq) to its end, partition
by partition: a table on a terminal, one JSON object per dead letter when
piped (see --format). Each says what happened (kind, error, original
topic, partition and offset, attempts), what was cut to fit the topic, and
whether a redrive would send it ("ok"), did ("redriven") or would refuse
it, and why. Nothing is consumed or committed.` + dlqFilterHelp

const dlqMore = `
Environment (flags win):
` + connEnvHelp + `

Exit status:
  0    done
  1    error: the broker cannot be reached, the topic does not exist, ...
  2    bad flags or arguments
  130  interrupted (Ctrl-C)`

func runDLQList(ctx context.Context, env Env, args []string) int {
	var (
		c  dlqFlags
		ff filterFlags
	)
	fs := newFlagSet("dlq list", "dlq list <location> [flags]", dlqListAbout, dlqMore+`

Examples:
  kafka-broker dlq list orders
  kafka-broker dlq list orders --kind handler --error timeout --since 24h
  kafka-broker dlq list orders --event 'order.#' --format json | jq .error`)
	ff.register(fs)
	c.register(fs)
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return fs.fail(env, err)
	}
	if err := dlqList(ctx, env, &c, &ff, pos[0]); err != nil {
		return fail(env, "dlq list", err)
	}
	return ExitOK
}

func dlqList(ctx context.Context, env Env, c *dlqFlags, ff *filterFlags, location string) error {
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	d, err := c.open(ctx, env, location, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	human := c.format.human(env, env.Stdout)
	var table *deadLetterTable
	if human {
		table = newDeadLetterTable(env.Stdout)
	}
	p := startProgress(env, env.Stderr, "reading "+d.Topic())
	n := 0
	err = d.List(ctx, f, func(dl *core.DeadLetter) error {
		n++
		if human {
			table.add(dl)
			return nil
		}
		return writeJSONLine(env.Stdout, dl)
	})
	p.Stop()
	if err != nil {
		return dlqError(ctx, d, err)
	}
	if human {
		if err := table.flush(); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s in %s%s\n", plural(n, "dead letter"), d.Topic(), filterNote(f))
	}
	return nil
}

func filterNote(f core.DeadLetterFilter) string {
	if f.IsZero() {
		return ""
	}
	return " matching the filter"
}

// dlqError words the errors of the dlq commands.
func dlqError(ctx context.Context, d *core.DeadLetters, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, core.ErrUnknownTopic):
		return fmt.Errorf("the dead-letter topic %s does not exist (no dead letters yet, or another --topic)", d.Topic())
	}
	return err
}

const dlqShowAbout = `
Prints one dead letter in full: what the kafka_dlt-* headers say, the event
(data and audit trail) or the raw value when it is not an event, and every
header. <position> is <partition>/<offset>, as dlq list prints it; a bare
<offset> is accepted when the topic has a single partition.`

func runDLQShow(ctx context.Context, env Env, args []string) int {
	var c dlqFlags
	fs := newFlagSet("dlq show", "dlq show <location> <position> [flags]", dlqShowAbout, dlqMore+`

Examples:
  kafka-broker dlq show orders 0/17
  kafka-broker dlq show orders 0/17 --format json | jq .event.data`)
	c.register(fs)
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return fs.fail(env, err)
	}
	if err := dlqShow(ctx, env, &c, pos[0], pos[1]); err != nil {
		return fail(env, "dlq show", err)
	}
	return ExitOK
}

// parsePosition reads <partition>/<offset> or <offset>; partition is -1 for
// a bare offset.
func parsePosition(s string) (partition int32, offset int64, err error) {
	ps, offs, ok := strings.Cut(s, "/")
	if !ok {
		ps, offs = "", s
	}
	partition = -1
	if ok {
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			return 0, 0, usagef("invalid position %q: want <partition>/<offset>, e.g. 0/17", s)
		}
		partition = int32(p)
	}
	offset, err = strconv.ParseInt(offs, 10, 64)
	if err != nil || offset < 0 {
		return 0, 0, usagef("invalid position %q: want <partition>/<offset>, e.g. 0/17", s)
	}
	return partition, offset, nil
}

func dlqShow(ctx context.Context, env Env, c *dlqFlags, location, position string) error {
	partition, offset, err := parsePosition(position)
	if err != nil {
		return err
	}
	d, err := c.open(ctx, env, location, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	if partition < 0 {
		n, err := d.Partitions(ctx)
		if err != nil {
			return dlqError(ctx, d, err)
		}
		if n != 1 {
			return usagef("%s has %d partitions: give the position as <partition>/<offset>, e.g. 0/%d", d.Topic(), n, offset)
		}
		partition = 0
	}
	dl, err := d.Get(ctx, partition, offset)
	if err != nil {
		return dlqError(ctx, d, err)
	}
	if c.format.human(env, env.Stdout) {
		_, err = io.WriteString(env.Stdout, showDeadLetter(dl))
		return err
	}
	return writeJSONLine(env.Stdout, dl)
}

const dlqRedriveAbout = `
Sends the dead letters the filters select back to the topic they were
consumed from (their original topic), once each, and prints what became of
each and a summary: redriven, skipped (not selected), refused (with the
reason) and failed.

A redriven record keeps its key and correlation ID and its original
headers, gets an audit entry whose location is the dead-letter topic, and
the header kafka_dlt-redrive-count (one more than before). Refused:
  cut                 the key or value was cut to fit the dead-letter topic (never sent)
  undecodable         not an event, or dead-lettered as malformed: it would come back
                      (--force sends it as it is)
  headers_cut         its original headers were cut (--force sends it without them)
  unsolicited_reply   a reply nothing awaited: it would come back (--force)
  already_redriven    redriven before, by any run (--force sends it again)
  max_redrives        the record was redriven --max-redrives times already
  max_hops            its audit log would exceed --max-hops
  target              its original topic is not <location> and not --allow-to'd

Each redrive is recorded in the compacted topic <dlq>.redrive, created when
missing, which later runs read. Redriven records, their ledger entries and
the position reached go in one Kafka transaction per batch: an interrupted
run (Ctrl-C, or the process killed) leaves whole batches only, and running
the same command again resumes after the last one. The position is kept per
job (the filters, --to, --allow-to, --force, --max-redrives, --max-hops):
the same command reads only what came since its last run; --restart reads
from the start (the ledger refuses what was redriven). Consumers see the
redriven records when a batch commits, if they read committed records only
(librdkafka's default; Java clients need isolation.level=read_committed).` + dlqFilterHelp

func runDLQRedrive(ctx context.Context, env Env, args []string) int {
	var (
		c           dlqFlags
		ff          filterFlags
		dryRun      bool
		force       bool
		restart     bool
		to          string
		allow       stringsFlag
		maxRedrives int
		maxHops     int
		batch       int
	)
	fs := newFlagSet("dlq redrive", "dlq redrive <location> [flags]", dlqRedriveAbout, `
Environment (flags win):
  KAFKA_REDRIVE_ALLOW_LIST  --allow-to, comma-separated
`+connEnvHelp+`

Exit status:
  0    done; every selected dead letter was redriven or refused
  1    error, or some dead letters could not be sent (run again to retry them)
  2    bad flags or arguments
  130  interrupted (Ctrl-C); run the same command again to resume

Examples:
  kafka-broker dlq redrive orders --kind handler --dry-run
  kafka-broker dlq redrive orders --kind handler --since 2h
  kafka-broker dlq redrive orders --correlation-id 6f1c0b2e-... --force
  kafka-broker dlq redrive orders --to orders-retry --allow-to orders-retry`)
	ff.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be redriven; write nothing")
	fs.BoolVar(&force, "force", false, "redrive what was redriven before, and what is refused unless forced (see above)")
	fs.BoolVar(&restart, "restart", false, "read the topic from its start, not from where the last run of this job stopped")
	fs.StringVar(&to, "to", "", "send every dead letter to `topic` instead of its original topic (must be --allow-to'd)")
	fs.Var(&allow, "allow-to", "topics a dead letter may be sent to besides <location>: `names` or prefixes ending in *, comma-separated or repeated")
	fs.IntVar(&maxRedrives, "max-redrives", core.DefaultMaxRedrives, "refuse records redriven `n` times already")
	fs.IntVar(&maxHops, "max-hops", core.DefaultMaxHops, "the services' MaxHops: refuse events whose audit log would exceed `n` hops")
	fs.IntVar(&batch, "batch", core.DefaultRedriveBatch, "dead letters per transaction, at most `n`")
	c.register(fs)
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return fs.fail(env, err)
	}
	allowTo := splitList(allow)
	if len(allow) == 0 {
		allowTo = splitList([]string{env.getenv("KAFKA_REDRIVE_ALLOW_LIST")})
	}
	r := redriveCmd{env: env, c: &c, ff: &ff, location: pos[0], opts: core.RedriveOptions{
		To: to, AllowTo: allowTo, Force: force, DryRun: dryRun, Restart: restart,
		MaxRedrives: maxRedrives, MaxHops: maxHops, BatchSize: batch,
	}}
	return r.run(ctx)
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

type redriveCmd struct {
	env      Env
	c        *dlqFlags
	ff       *filterFlags
	location string
	opts     core.RedriveOptions
}

func (r *redriveCmd) run(ctx context.Context) int {
	env, o := r.env, &r.opts
	var err error
	if o.Filter, err = r.ff.filter(time.Now()); err != nil {
		return fail(env, "dlq redrive", err)
	}
	switch {
	case o.MaxRedrives < 1:
		return fail(env, "dlq redrive", usagef("--max-redrives must be at least 1"))
	case o.MaxHops < 1:
		return fail(env, "dlq redrive", usagef("--max-hops must be at least 1"))
	case o.BatchSize < 1:
		return fail(env, "dlq redrive", usagef("--batch must be at least 1"))
	case o.To != "":
		if err := checkTopic(o.To); err != nil {
			return fail(env, "dlq redrive", usagef("--to: %v", err))
		}
		if !slices.ContainsFunc(o.AllowTo, func(p string) bool {
			return p == o.To || (strings.HasSuffix(p, "*") && strings.HasPrefix(o.To, strings.TrimSuffix(p, "*")))
		}) {
			return fail(env, "dlq redrive", usagef("--to %s: the topic must be allowed too: add --allow-to %s (or KAFKA_REDRIVE_ALLOW_LIST)", o.To, o.To))
		}
	}
	o.Job = r.job()
	d, err := r.c.open(ctx, env, r.location, o.MaxHops)
	if err != nil {
		return fail(env, "dlq redrive", err)
	}
	defer d.Close()

	human := r.c.format.human(env, env.Stdout)
	verb := "redriving"
	if o.DryRun {
		verb = "checking (dry run)"
	}
	p := startProgress(env, env.Stderr, verb+" "+d.Topic())
	var counts core.RedriveResult
	o.OnEntry = func(out core.RedriveOutcome) {
		switch out.Status {
		case core.RedriveRedriven:
			counts.Redriven++
		case core.RedriveWouldRedrive:
			counts.WouldRedrive++
		case core.RedriveRefused:
			counts.Refused++
		case core.RedriveFailed:
			counts.Failed++
		}
		p.Set(fmt.Sprintf("%s %s: %d of %d read · %d %s · %d refused · %d failed", verb, d.Topic(), out.Read, out.Total,
			counts.Redriven+counts.WouldRedrive, redrivenWord(o.DryRun), counts.Refused, counts.Failed))
		if out.Status == core.RedriveSkipped {
			return
		}
		if human {
			p.Println(env.Stdout, outcomeLine(out))
		} else {
			_ = writeJSONLine(env.Stdout, outcomeJSON(out))
		}
	}
	res, err := d.Redrive(ctx, *o)
	p.Stop()
	if res != nil {
		if human {
			fmt.Fprint(env.Stdout, summaryText(res))
		} else {
			_ = writeJSONLine(env.Stdout, summaryJSON(res))
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(env.Stderr, "kafka-broker dlq redrive: interrupted; the transaction in progress was aborted. Run the same command again to resume.\n")
		return ExitInterrupted
	case err != nil:
		return fail(env, "dlq redrive", dlqError(ctx, d, err))
	case res.Failed > 0:
		fmt.Fprintf(env.Stderr, "kafka-broker dlq redrive: %s could not be sent; run the same command again to retry\n", plural(res.Failed, "dead letter"))
		return ExitError
	}
	return ExitOK
}

// job names the run's position after the flags as given, so that a
// relative --since or --until resumes the same job.
func (r *redriveCmd) job() string {
	o, ff := r.opts, r.ff
	kinds := splitList(ff.kinds)
	slices.Sort(kinds)
	events := slices.Clone([]string(ff.events))
	slices.Sort(events)
	allow := slices.Clone(o.AllowTo)
	slices.Sort(allow)
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, "--"+k+"="+strconv.Quote(v))
		}
	}
	add("kind", strings.Join(kinds, ","))
	add("error", ff.errText)
	add("event", strings.Join(events, ","))
	add("since", ff.since)
	add("until", ff.until)
	add("correlation-id", ff.id)
	add("to", o.To)
	add("allow-to", strings.Join(allow, ","))
	if o.Force {
		parts = append(parts, "--force")
	}
	parts = append(parts, fmt.Sprintf("--max-redrives=%d", o.MaxRedrives), fmt.Sprintf("--max-hops=%d", o.MaxHops))
	return "dlq redrive " + r.location + " " + strings.Join(parts, " ")
}

func redrivenWord(dryRun bool) string {
	if dryRun {
		return "would redrive"
	}
	return "redriven"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
