package asyncapi

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/kafka-broker/kafka-broker-go/core"
)

// Service is a service a document describes: the topic it consumes and the
// router that handles what arrives there.
type Service struct {
	// Location is the topic the service consumes (core.Config.Location).
	Location string
	// Router handles the Location's events; nil documents no operations.
	Router *core.EventRouter
	// DeadLetterTopic is where the service writes the events it cannot
	// handle; default Location + ".dlq", core's default.
	DeadLetterTopic string
	// GroupID is the consumer group of the Location; default Location.
	GroupID string
}

// ServiceOf describes m: its Location, dead-letter topic and group, and the
// router set with SetRouter (nil when none is set yet).
func ServiceOf(m *core.Manager) Service {
	cfg := m.Config()
	return Service{Location: cfg.Location, Router: m.Router(), DeadLetterTopic: cfg.DeadLetterTopic, GroupID: cfg.GroupID}
}

// Names in the document that do not depend on the services.
const (
	channelReplies    = "replies"
	messageErrorReply = "errorReply"
	messageDeadLetter = "deadLetter"
	traitEnvelope     = "envelope"
	traitHeaders      = "kafkaHeaders"
	schemaEvent       = "EventObject"
	schemaAudit       = "AuditEntry"
	schemaErrorData   = "ErrorReplyData"
	schemaFieldError  = "FieldError"
	kafkaBinding      = "0.5.0"
)

// Build returns the AsyncAPI 3.0.0 document of services: for each, a channel
// for its Location with one receive operation per routing key its router
// binds (typed handlers with the JSON Schema of their data, untyped ones with
// an open schema), a reply for request/reply handlers on the requester's
// reply topic, and its dead-letter channel. Info's title defaults to the
// first Location, its version to "0.0.0".
func Build(info Info, services ...Service) (*Document, error) {
	if len(services) == 0 {
		return nil, errors.New("asyncapi: no service to describe")
	}
	for i, s := range services {
		if s.Location == "" {
			return nil, fmt.Errorf("asyncapi: service %d has no Location", i)
		}
	}
	if info.Title == "" {
		info.Title = services[0].Location
	}
	if info.Version == "" {
		info.Version = "0.0.0"
	}
	b := &builder{
		doc: &Document{
			AsyncAPI:           Version,
			Info:               info,
			DefaultContentType: "application/json",
			Channels:           map[string]*Channel{},
			Operations:         map[string]*Operation{},
			Components: &Components{
				Schemas:       map[string]Schema{},
				Messages:      map[string]*Message{},
				MessageTraits: commonTraits(),
			},
		},
		schemas: newSchemas(),
		keys:    map[string]string{},
	}
	b.addCommon()
	for _, s := range services {
		if err := b.addService(s, len(services) > 1); err != nil {
			return nil, err
		}
	}
	for name, s := range b.schemas.defs {
		b.doc.Components.Schemas[name] = s
	}
	b.addExamples()
	return b.doc, nil
}

type builder struct {
	doc     *Document
	schemas *schemas
	keys    map[string]string // message ID -> routing key, for examples
}

func ref(parts ...string) Ref { return Ref{"#/" + strings.Join(parts, "/")} }

func schemaRef(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

func str(s string) *string { return &s }

// addCommon adds what every service shares: the envelope's schemas, the
// error reply, and the reply channel.
func (b *builder) addCommon() {
	c := b.doc.Components
	c.Schemas[schemaEvent] = Schema{
		"type":        "object",
		"description": "The envelope of every event, field for field the EventObject of the Python kafka-broker package. The record's key is the correlation ID.",
		"required":    []any{"correlation_id", "status", "event", "data", "audit_log"},
		"properties": map[string]any{
			"correlation_id": Schema{"type": "string", "description": "A UUID shared by a request and its replies."},
			"status": Schema{"type": "string", "enum": []any{"pending", "ongoing", "success", "completed", "error", "cancelled"},
				"description": `"pending" for a request or event; "completed" for a reply, "error" for an error reply.`},
			"event":     Schema{"type": "string", "description": "The dotted routing key: the handler it goes to."},
			"data":      Schema{"description": "The payload: its schema depends on the event."},
			"audit_log": Schema{"type": "array", "items": schemaRef(schemaAudit), "description": "One entry per hop, appended by each sender."},
		},
	}
	c.Schemas[schemaAudit] = Schema{
		"type":     "object",
		"required": []any{"data", "event", "location", "time_sent", "time_received"},
		"properties": map[string]any{
			"data":          Schema{"description": "The data as this hop sent it."},
			"event":         Schema{"type": "string"},
			"location":      Schema{"type": "string", "description": "The sender's Location (its topic)."},
			"time_sent":     Schema{"type": "integer", "description": "Unix seconds."},
			"time_received": Schema{"type": []any{"integer", "null"}, "description": "Unix seconds; null until the receiver consumed it."},
		},
	}
	c.Schemas[schemaFieldError] = Schema{
		"type":     "object",
		"required": []any{"field", "tag", "message"},
		"properties": map[string]any{
			"field":   Schema{"type": "string", "description": `The path of JSON names, e.g. "items[0].sku".`},
			"tag":     Schema{"type": "string", "description": `The rule that failed: a validator tag ("required", "min", ...) or "type".`},
			"message": Schema{"type": "string"},
		},
	}
	c.Schemas[schemaErrorData] = Schema{
		"type":        "object",
		"description": "The data of an error reply, as the Python package's EventObject.as_reply writes it, plus the fields that failed validation.",
		"required":    []any{"message", "status_code", "payload"},
		"properties": map[string]any{
			"message":     Schema{"type": "string"},
			"status_code": Schema{"type": "integer", "description": "400: data not decodable; 422: validation failed (see fields); 500: handler error; or the handler's choice."},
			"payload":     Schema{"description": "The request's data."},
			"fields":      Schema{"type": "array", "items": schemaRef(schemaFieldError)},
		},
	}
	c.Messages[messageErrorReply] = &Message{
		Name:        messageErrorReply,
		Title:       "Error reply",
		Summary:     "The request was refused (invalid data) or its handler answered with an error.",
		ContentType: "application/json",
		Payload:     envelopeOf(Schema{"const": core.StatusError}, nil, schemaRef(schemaErrorData)),
		Traits:      []Ref{ref("components", "messageTraits", traitEnvelope), ref("components", "messageTraits", traitHeaders)},
	}
	b.doc.Channels[channelReplies] = &Channel{
		Address: nil,
		Title:   "Reply topic of the requester",
		Description: "Where a request/reply handler answers: the topic named by the request's kafka_replyTopic header " +
			"(Go requesters: <Location>.replies), else the Location of the request's last audit entry (Python requesters). " +
			"Known only at run time.",
		Messages: map[string]Ref{messageErrorReply: ref("components", "messages", messageErrorReply)},
	}
}

// commonTraits are the envelope and the Kafka headers, shared by all messages.
func commonTraits() map[string]*MessageTrait {
	header := func(desc string) Schema { return Schema{"type": "string", "description": desc} }
	return map[string]*MessageTrait{
		traitEnvelope: {
			Name:        "EventObject",
			Summary:     "The kafka-broker envelope: the value is a JSON EventObject, the key its correlation ID.",
			Description: "correlation_id, status, event (the routing key), data (the payload) and audit_log (one entry per hop): see components.schemas.EventObject.",
			ContentType: "application/json",
			CorrelationID: &CorrelationID{
				Location:    "$message.payload#/correlation_id",
				Description: "Also the record's key and the kafka_correlationId header.",
			},
			Bindings: map[string]any{"kafka": map[string]any{
				"key":            Schema{"type": "string", "description": "The correlation ID."},
				"bindingVersion": kafkaBinding,
			}},
		},
		traitHeaders: {
			Summary: "Kafka headers set by Go senders; Python senders set none.",
			Headers: Schema{
				"type": "object",
				"properties": map[string]any{
					core.HeaderCorrelationID:  header("The correlation ID (Spring Kafka's name)."),
					core.HeaderReplyTopic:     header("Requests: the topic the reply must go to."),
					core.HeaderReplyPartition: header("Requests: the partition of the reply topic, in decimal; optional."),
					core.HeaderTraceParent:    Schema{"type": "string", "description": "W3C trace context.", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
				},
			},
		},
	}
}

// envelopeOf is the payload schema of a message: the envelope with its
// status, event and data narrowed.
func envelopeOf(status, event, data Schema) Schema {
	props := map[string]any{"data": data}
	if status != nil {
		props["status"] = status
	}
	if event != nil {
		props["event"] = event
	}
	return Schema{"allOf": []any{schemaRef(schemaEvent), Schema{"type": "object", "properties": props}}}
}

// opIDs names operations after their routing keys, wildcards spelled out.
var wildcardNames = strings.NewReplacer("*", "_star", "#", "_hash")

func (b *builder) uniqueOp(id string) string {
	out := id
	for i := 2; b.doc.Operations[out] != nil || b.doc.Components.Messages[out] != nil; i++ {
		out = fmt.Sprintf("%s-%d", id, i)
	}
	return out
}

func (b *builder) addService(s Service, several bool) error {
	dlq := s.DeadLetterTopic
	if dlq == "" {
		dlq = s.Location + ".dlq"
	}
	group := s.GroupID
	if group == "" {
		group = s.Location
	}
	loc := &Channel{
		Address:     str(s.Location),
		Title:       "Location " + s.Location,
		Description: "The topic the service consumes: its events and requests, routed by their event (routing key).",
		Messages:    map[string]Ref{},
		Bindings:    map[string]any{"kafka": map[string]any{"topic": s.Location, "bindingVersion": kafkaBinding}},
	}
	b.doc.Channels[s.Location] = loc
	var routes []core.Route
	if s.Router != nil {
		routes = s.Router.Routes()
	}
	for _, rt := range routes {
		id := wildcardNames.Replace(rt.Key)
		if several {
			id = s.Location + "." + id
		}
		id = b.uniqueOp(id)
		if err := b.addRoute(s, loc, group, id, rt); err != nil {
			return err
		}
	}

	dlqID := b.uniqueOp(s.Location + ".deadLetter")
	if !several {
		dlqID = b.uniqueOp(messageDeadLetter)
	}
	b.doc.Components.Messages[dlqID] = deadLetterMessage(dlqID)
	b.doc.Channels[dlq] = &Channel{
		Address:     str(dlq),
		Title:       "Dead letters of " + s.Location,
		Description: "Records of the Location the service could not handle, unchanged, with the reason in headers.",
		Messages:    map[string]Ref{dlqID: ref("components", "messages", dlqID)},
		Bindings:    map[string]any{"kafka": map[string]any{"topic": dlq, "bindingVersion": kafkaBinding}},
	}
	b.doc.Operations[dlqID] = &Operation{
		Action:   "send",
		Channel:  ref("channels", dlq),
		Summary:  "Dead-letter a record that is malformed, invalid, unroutable, or whose handler kept failing.",
		Messages: []Ref{ref("channels", dlq, "messages", dlqID)},
		Location: s.Location,
	}
	return nil
}

func (b *builder) addRoute(s Service, loc *Channel, group, id string, rt core.Route) error {
	event := Schema{"const": rt.Key}
	if hasWildcard(rt.Key) {
		event = Schema{"type": "string", "pattern": keyPattern(rt.Key),
			"description": `Matches the routing key ` + rt.Key + `: "*" is one segment, "#" zero or more.`}
	}
	data := Schema{"description": "Any JSON: an untyped handler (core.HandlerFunc) describes no payload."}
	if rt.In != nil {
		var err error
		if data, err = b.schemas.schema(rt.In); err != nil {
			return err
		}
	}
	msg := &Message{
		Name:        rt.Key,
		Title:       rt.Key,
		ContentType: "application/json",
		Payload:     envelopeOf(nil, event, data),
		Traits:      []Ref{ref("components", "messageTraits", traitEnvelope), ref("components", "messageTraits", traitHeaders)},
	}
	b.doc.Components.Messages[id] = msg
	b.keys[id] = rt.Key
	loc.Messages[id] = ref("components", "messages", id)
	op := &Operation{
		Action:     "receive",
		Channel:    ref("channels", s.Location),
		Messages:   []Ref{ref("channels", s.Location, "messages", id)},
		Bindings:   map[string]any{"kafka": map[string]any{"groupId": Schema{"type": "string", "enum": []any{group}}, "bindingVersion": kafkaBinding}},
		RoutingKey: rt.Key,
		Kind:       string(rt.Kind),
		Location:   s.Location,
	}
	switch rt.Kind {
	case core.RouteRequest:
		msg.Summary = "A request: the handler replies with " + typeName(rt.Out) + "."
		op.Summary = "Request/reply: " + typeName(rt.In) + " → " + typeName(rt.Out)
		out, err := b.schemas.schema(rt.Out)
		if err != nil {
			return err
		}
		replyID := id + ".reply"
		b.doc.Components.Messages[replyID] = &Message{
			Name:        replyID,
			Title:       "Reply to " + rt.Key,
			ContentType: "application/json",
			Payload:     envelopeOf(Schema{"const": core.StatusCompleted}, event, out),
			Traits:      []Ref{ref("components", "messageTraits", traitEnvelope), ref("components", "messageTraits", traitHeaders)},
		}
		b.keys[replyID] = rt.Key
		b.doc.Channels[channelReplies].Messages[replyID] = ref("components", "messages", replyID)
		op.Reply = &Reply{
			Address: &ReplyAddress{
				Location:    "$message.header#/" + core.HeaderReplyTopic,
				Description: "The kafka_replyTopic header; without it, the Location of the request's last audit entry.",
			},
			Channel: ref("channels", channelReplies),
			Messages: []Ref{
				ref("channels", channelReplies, "messages", replyID),
				ref("channels", channelReplies, "messages", messageErrorReply),
			},
		}
	case core.RouteEvent:
		msg.Summary = "An event: the handler does not reply."
		op.Summary = "Event: " + typeName(rt.In)
	default:
		msg.Summary = "Handled by an untyped handler: payload and reply are not described."
		op.Summary = "Untyped handler"
	}
	op.Title = rt.Key
	b.doc.Operations[id] = op
	return nil
}

// typeName names a Go type for people: "worker.HelloIn", "[]shop.Order";
// an unnamed struct is "an object".
func typeName(t reflect.Type) string {
	switch {
	case t == nil:
		return "nothing"
	case t.Kind() == reflect.Struct && t.Name() == "":
		return "an object"
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		return "any JSON"
	}
	return strings.ReplaceAll(t.String(), "interface {}", "any")
}

func deadLetterMessage(id string) *Message {
	h := func(desc string) Schema { return Schema{"type": "string", "description": desc} }
	return &Message{
		Name:    id,
		Title:   "Dead letter",
		Summary: "The original record's key and value, unchanged, with its headers and the reason.",
		Payload: Schema{"description": "The original value: usually an EventObject, any bytes for a record that was not JSON (or nothing, see kafka_dlt-value-dropped)."},
		Headers: Schema{
			"type": "object",
			"properties": map[string]any{
				core.HeaderDLTError:             h("The error."),
				core.HeaderDLTErrorKind:         h("Why: not_json, not_object, field_type, too_large, empty_event (malformed records), no_route, handler (failed after retries), invalid (a typed handler refused the data)."),
				core.HeaderDLTOriginalTopic:     h("Where the record was read."),
				core.HeaderDLTOriginalPartition: h("Its partition, in decimal."),
				core.HeaderDLTOriginalOffset:    h("Its offset, in decimal."),
				core.HeaderDLTAttempts:          h("How often the handler ran, in decimal."),
				core.HeaderDLTValueDropped:      h("Set when the broker refused the value: the reason."),
				core.HeaderDLTInvalidFields:     h(`Kind "invalid": the fields at fault, a JSON array of {"field","tag","message"}.`),
			},
		},
	}
}

// addExamples gives each message of a routing key an example: an envelope
// with example data.
func (b *builder) addExamples() {
	for id, key := range b.keys {
		msg := b.doc.Components.Messages[id]
		env, ok := Example(msg.Payload, b.doc.Components.Schemas).(map[string]any)
		if !ok {
			continue
		}
		event := exampleKey(key)
		env["correlation_id"] = "6f1c2b1e-8d3a-4c55-9a2e-2f7d0c9b1a42"
		env["event"] = event
		env["audit_log"] = []any{map[string]any{"data": env["data"], "event": event,
			"location": "requester", "time_sent": 1700000000, "time_received": nil}}
		msg.Examples = []MessageExample{{Name: "example", Payload: env}}
	}
}

// exampleKey is an event name that key matches: "*" becomes "any", "#" none.
func exampleKey(key string) string {
	var segs []string
	for _, seg := range strings.Split(key, ".") {
		switch seg {
		case "#":
		case "*":
			segs = append(segs, "any")
		default:
			segs = append(segs, seg)
		}
	}
	if len(segs) == 0 {
		return "any"
	}
	return strings.Join(segs, ".")
}
