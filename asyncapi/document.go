package asyncapi

// Version is the AsyncAPI version of the documents this package builds.
const Version = "3.0.0"

// Document is an AsyncAPI 3.0.0 document, the parts of the specification
// this package writes. It marshals to the specification's JSON.
type Document struct {
	AsyncAPI           string                `json:"asyncapi"`
	Info               Info                  `json:"info"`
	DefaultContentType string                `json:"defaultContentType,omitempty"`
	Channels           map[string]*Channel   `json:"channels,omitempty"`
	Operations         map[string]*Operation `json:"operations,omitempty"`
	Components         *Components           `json:"components,omitempty"`
}

// Info describes the service a document is about.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Schema is a JSON Schema (draft 07, as AsyncAPI 3.0.0 extends it), as
// decoded from JSON.
type Schema = map[string]any

// Ref is a Reference Object: a JSON pointer into the document.
type Ref struct {
	Ref string `json:"$ref"`
}

// Channel is a topic: the Location a service consumes, its dead-letter
// topic, or the requester's reply topic (Address nil: known at run time).
type Channel struct {
	Address     *string        `json:"address"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Messages    map[string]Ref `json:"messages,omitempty"`
	Bindings    map[string]any `json:"bindings,omitempty"`
}

// Operation is what a service does on a channel: receive the events of one
// routing key (with a Reply for request/reply handlers), or send dead letters.
type Operation struct {
	Action      string         `json:"action"` // "receive" or "send"
	Channel     Ref            `json:"channel"`
	Title       string         `json:"title,omitempty"`
	Summary     string         `json:"summary,omitempty"`
	Description string         `json:"description,omitempty"`
	Messages    []Ref          `json:"messages,omitempty"`
	Reply       *Reply         `json:"reply,omitempty"`
	Bindings    map[string]any `json:"bindings,omitempty"`

	// Extensions: the routing key as bound (wildcards included), the kind of
	// handler (core.RouteKind) and the service's Location.
	RoutingKey string `json:"x-routing-key,omitempty"`
	Kind       string `json:"x-kind,omitempty"`
	Location   string `json:"x-location,omitempty"`
}

// Reply is an Operation Reply Object: where a request/reply handler answers
// and with which messages.
type Reply struct {
	Address  *ReplyAddress `json:"address,omitempty"`
	Channel  Ref           `json:"channel"`
	Messages []Ref         `json:"messages,omitempty"`
}

// ReplyAddress is a runtime expression naming the reply topic.
type ReplyAddress struct {
	Location    string `json:"location"`
	Description string `json:"description,omitempty"`
}

// Components holds the reusable parts the rest of a document refers to.
type Components struct {
	Schemas       map[string]Schema        `json:"schemas,omitempty"`
	Messages      map[string]*Message      `json:"messages,omitempty"`
	MessageTraits map[string]*MessageTrait `json:"messageTraits,omitempty"`
}

// Message is a Message Object: one kind of record on a channel.
type Message struct {
	Name        string           `json:"name,omitempty"`
	Title       string           `json:"title,omitempty"`
	Summary     string           `json:"summary,omitempty"`
	Description string           `json:"description,omitempty"`
	ContentType string           `json:"contentType,omitempty"`
	Headers     Schema           `json:"headers,omitempty"`
	Payload     Schema           `json:"payload,omitempty"`
	Traits      []Ref            `json:"traits,omitempty"`
	Examples    []MessageExample `json:"examples,omitempty"`
}

// MessageTrait is what several messages share: the envelope and the headers.
type MessageTrait struct {
	Name          string         `json:"name,omitempty"`
	Summary       string         `json:"summary,omitempty"`
	Description   string         `json:"description,omitempty"`
	ContentType   string         `json:"contentType,omitempty"`
	Headers       Schema         `json:"headers,omitempty"`
	CorrelationID *CorrelationID `json:"correlationId,omitempty"`
	Bindings      map[string]any `json:"bindings,omitempty"`
}

// CorrelationID says where a message's correlation ID is.
type CorrelationID struct {
	Location    string `json:"location"`
	Description string `json:"description,omitempty"`
}

// MessageExample is an example of a message.
type MessageExample struct {
	Name    string         `json:"name,omitempty"`
	Summary string         `json:"summary,omitempty"`
	Headers map[string]any `json:"headers,omitempty"`
	Payload any            `json:"payload,omitempty"`
}
