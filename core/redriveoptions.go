package core

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRedrives bounds how often one record is redriven
// (RedriveOptions.MaxRedrives).
const DefaultMaxRedrives = 3

// DefaultRedriveBatch is how many dead letters one redrive transaction
// carries at most (RedriveOptions.BatchSize).
const DefaultRedriveBatch = 100

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
