package asyncapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kafka-broker/kafka-broker-go/asyncapi"
	"github.com/kafka-broker/kafka-broker-go/core"
)

type Item struct {
	SKU   string  `json:"sku" validate:"required,len=6" jsonschema:"description=Stock keeping unit,example=AB-123"`
	Qty   int     `json:"qty" validate:"min=1,max=99"`
	Price float64 `json:"price" validate:"gt=0"`
}

type CreateOrder struct {
	Customer string    `json:"customer" validate:"required,email"`
	Items    []Item    `json:"items" validate:"required,min=1,dive"`
	Note     *string   `json:"note,omitempty" validate:"omitempty,max=200"`
	Channel  string    `json:"channel" validate:"oneof=web shop phone"`
	Due      time.Time `json:"due"`
}

type Order struct {
	ID     int     `json:"id"`
	Status string  `json:"status"`
	Items  []Item  `json:"items"`
	Parent *Order  `json:"parent,omitempty"` // recursive
	Total  float64 `json:"total"`
}

type OrderCreated struct {
	ID int `json:"id" validate:"required"`
}

func noop(context.Context, *core.EventObject) error { return nil }

// typedRouter is a service's root router: typed and untyped handlers,
// nested routers and wildcards.
func typedRouter() *core.EventRouter {
	orders := core.NewEventRouter("orders")
	core.HandleEvent(orders, "create", func(context.Context, CreateOrder) (Order, error) { return Order{}, nil })
	core.OnEvent(orders, "created", func(context.Context, OrderCreated) error { return nil })
	core.OnEvent(orders, "*", func(context.Context, map[string]any) error { return nil })
	v2 := core.NewEventRouter("v2")
	core.HandleEvent(v2, "get", func(context.Context, struct {
		ID int `json:"id" validate:"required,gte=1"`
	}) ([]Order, error) {
		return nil, nil
	})
	orders.IncludeBinder(v2)
	audit := core.NewEventRouter("audit")
	audit.BindEvent("#", noop)
	root := core.NewEventRouter("shop")
	root.IncludeBinder(orders)
	root.IncludeBinder(audit)
	root.BindEvent("ping", noop)
	return root
}

func untypedRouter() *core.EventRouter {
	greet := core.NewEventRouter("greet")
	greet.BindEvent("hello", noop)
	greet.BindEvent("*", noop)
	root := core.NewEventRouter("greeter")
	root.IncludeBinder(greet)
	return root
}

var specOnce = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open("testdata/asyncapi-specs/3.0.0.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
	if err := c.AddResource(id, doc); err != nil {
		return nil, err
	}
	return c.Compile(id)
})

// validate checks doc against the official AsyncAPI 3.0.0 JSON Schema, that
// every $ref in it resolves, and that each example validates against the
// payload schema of its message.
func validate(t *testing.T, doc *asyncapi.Document) map[string]any {
	t.Helper()
	spec, err := specOnce()
	if err != nil {
		t.Fatalf("AsyncAPI 3.0.0 schema: %v", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(inst); err != nil {
		t.Fatalf("document is not valid AsyncAPI 3.0.0:\n%v\n%s", err, b)
	}
	raw := inst.(map[string]any)
	walkRefs(t, raw, raw, "")

	// Examples against their messages' payload schemas.
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem://doc.json", raw); err != nil {
		t.Fatal(err)
	}
	msgs := raw["components"].(map[string]any)["messages"].(map[string]any)
	for id, m := range msgs {
		exs, _ := m.(map[string]any)["examples"].([]any)
		for _, ex := range exs {
			sch, err := c.Compile("mem://doc.json#/components/messages/" + pointerEscape(id) + "/payload")
			if err != nil {
				t.Fatalf("payload schema of %s: %v", id, err)
			}
			if err := sch.Validate(ex.(map[string]any)["payload"]); err != nil {
				t.Errorf("example of message %s does not validate against its payload: %v", id, err)
			}
		}
	}
	return raw
}

func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// walkRefs fails the test on a "$ref" that does not point into doc.
func walkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok {
			if _, err := resolve(doc, r); err != nil {
				t.Errorf("%s: $ref %q: %v", at, r, err)
			}
		}
		for k, x := range v {
			walkRefs(t, doc, x, at+"/"+k)
		}
	case []any:
		for i, x := range v {
			walkRefs(t, doc, x, fmt.Sprintf("%s/%d", at, i))
		}
	}
}

func resolve(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("not a local JSON pointer")
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: not an object", tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%q: no such member", tok)
		}
	}
	return cur, nil
}

func get(t *testing.T, doc map[string]any, ref string) map[string]any {
	t.Helper()
	v, err := resolve(doc, ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %T, want an object", ref, v)
	}
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestTypedRouterDocument(t *testing.T) {
	doc, err := asyncapi.Build(asyncapi.Info{Title: "Shop", Version: "1.2.0"},
		asyncapi.Service{Location: "shop", Router: typedRouter()})
	if err != nil {
		t.Fatal(err)
	}
	raw := validate(t, doc)
	t.Run("operations", func(t *testing.T) { checkTypedOperations(t, raw) })
	t.Run("reply", func(t *testing.T) { checkTypedReply(t, raw) })
	t.Run("payloads", func(t *testing.T) { checkTypedPayloads(t, raw) })
	t.Run("envelope", func(t *testing.T) { checkEnvelope(t, raw) })
}

// checkTypedOperations checks the operations of typedRouter's document.
func checkTypedOperations(t *testing.T, raw map[string]any) {
	ops := raw["operations"].(map[string]any)
	wantOps := []string{"audit._hash", "deadLetter", "orders._star", "orders.create", "orders.created", "orders.v2.get", "ping"}
	if got := keys(ops); !slices.Equal(got, wantOps) {
		t.Fatalf("operations %v, want %v", got, wantOps)
	}
	kinds := map[string]string{"audit._hash": "untyped", "orders._star": "event", "orders.create": "request",
		"orders.created": "event", "orders.v2.get": "request", "ping": "untyped"}
	routing := map[string]string{"audit._hash": "audit.#", "orders._star": "orders.*", "orders.create": "orders.create",
		"orders.created": "orders.created", "orders.v2.get": "orders.v2.get", "ping": "ping"}
	for id, kind := range kinds {
		op := ops[id].(map[string]any)
		if op["x-kind"] != kind || op["x-routing-key"] != routing[id] || op["action"] != "receive" || op["x-location"] != "shop" {
			t.Errorf("operation %s: %v", id, op)
		}
		if get(t, raw, op["channel"].(map[string]any)["$ref"].(string))["address"] != "shop" {
			t.Errorf("operation %s: not on the Location channel", id)
		}
		_, hasReply := op["reply"]
		if hasReply != (kind == "request") {
			t.Errorf("operation %s (%s): reply %v", id, kind, op["reply"])
		}
	}
}

// checkTypedReply checks the request's reply: on the requester's reply
// topic, from the header, with the reply type and the error reply.
func checkTypedReply(t *testing.T, raw map[string]any) {
	ops := raw["operations"].(map[string]any)
	reply := ops["orders.create"].(map[string]any)["reply"].(map[string]any)
	if loc := reply["address"].(map[string]any)["location"]; loc != "$message.header#/kafka_replyTopic" {
		t.Errorf("reply address %v", loc)
	}
	if ch := get(t, raw, reply["channel"].(map[string]any)["$ref"].(string)); ch["address"] != nil {
		t.Errorf("reply channel address %v, want null (known at run time)", ch["address"])
	}
	var replyMsgs []string
	for _, r := range reply["messages"].([]any) {
		replyMsgs = append(replyMsgs, get(t, raw, r.(map[string]any)["$ref"].(string))["$ref"].(string))
	}
	if !slices.Equal(replyMsgs, []string{"#/components/messages/orders.create.reply", "#/components/messages/errorReply"}) {
		t.Errorf("reply messages %v", replyMsgs)
	}
	replyData := dataSchema(t, raw, "orders.create.reply")
	if replyData["$ref"] != "#/components/schemas/Order" {
		t.Errorf("reply data schema %v, want Order", replyData)
	}
}

// checkTypedPayloads checks the payload schemas, generated from the types
// with what validation requires, and their examples.
func checkTypedPayloads(t *testing.T, raw map[string]any) {
	if d := dataSchema(t, raw, "orders.create"); d["$ref"] != "#/components/schemas/CreateOrder" {
		t.Errorf("orders.create data schema %v", d)
	}
	co := get(t, raw, "#/components/schemas/CreateOrder")
	if req := fmt.Sprint(co["required"]); req != "[customer items]" {
		t.Errorf("CreateOrder required %s, want [customer items]", req)
	}
	props := co["properties"].(map[string]any)
	checkKeyword(t, props, "customer", "format", "email")
	checkKeyword(t, props, "items", "minItems", 1.0)
	checkKeyword(t, props, "channel", "enum", []any{"web", "shop", "phone"})
	checkKeyword(t, props, "due", "format", "date-time")
	item := get(t, raw, "#/components/schemas/Item")["properties"].(map[string]any)
	checkKeyword(t, item, "sku", "minLength", 6.0)
	checkKeyword(t, item, "sku", "description", "Stock keeping unit")
	checkKeyword(t, item, "qty", "maximum", 99.0)
	checkKeyword(t, item, "price", "exclusiveMinimum", 0.0)
	// An unnamed struct is inline, its rules applied.
	v2 := dataSchema(t, raw, "orders.v2.get")
	if fmt.Sprint(v2["required"]) != "[id]" {
		t.Errorf("inline struct schema %v, want id required", v2)
	}
	// Untyped: an open schema.
	for _, id := range []string{"ping", "audit._hash"} {
		if d := dataSchema(t, raw, id); d["type"] != nil || d["$ref"] != nil || d["properties"] != nil {
			t.Errorf("%s: data schema %v, want an open one", id, d)
		}
	}
	// Wildcards: the event is a pattern, the example an event it matches.
	ev := eventSchema(t, raw, "orders._star")
	if ev["pattern"] != `^orders\.[^.]+$` {
		t.Errorf("orders.* event schema %v", ev)
	}
	if e := example(t, raw, "orders._star")["event"]; e != "orders.any" {
		t.Errorf("orders.* example event %v", e)
	}
	if e := eventSchema(t, raw, "orders.create")["const"]; e != "orders.create" {
		t.Errorf("orders.create event %v", e)
	}
	// The example of a typed payload follows its schema (validated above)
	// and uses the field's example.
	ex := example(t, raw, "orders.create")["data"].(map[string]any)
	if sku := ex["items"].([]any)[0].(map[string]any)["sku"]; sku != "AB-123" {
		t.Errorf("example sku %v, want the field's example AB-123", sku)
	}
}

// checkEnvelope checks the envelope and headers, traits of every message,
// and the dead-letter channel.
func checkEnvelope(t *testing.T, raw map[string]any) {
	ops := raw["operations"].(map[string]any)
	traits := raw["components"].(map[string]any)["messageTraits"].(map[string]any)
	headers := traits["kafkaHeaders"].(map[string]any)["headers"].(map[string]any)["properties"].(map[string]any)
	if got := keys(headers); !slices.Equal(got, []string{"kafka_correlationId", "kafka_replyPartition", "kafka_replyTopic", "traceparent"}) {
		t.Errorf("header trait %v", got)
	}
	if cid := traits["envelope"].(map[string]any)["correlationId"].(map[string]any)["location"]; cid != "$message.payload#/correlation_id" {
		t.Errorf("envelope correlation ID %v", cid)
	}
	for id, m := range raw["components"].(map[string]any)["messages"].(map[string]any) {
		if id == "deadLetter" {
			continue
		}
		if tr := fmt.Sprint(m.(map[string]any)["traits"]); !strings.Contains(tr, "envelope") || !strings.Contains(tr, "kafkaHeaders") {
			t.Errorf("message %s traits %s", id, tr)
		}
	}
	dlq := raw["channels"].(map[string]any)["shop.dlq"].(map[string]any)
	if dlq["address"] != "shop.dlq" || ops["deadLetter"].(map[string]any)["action"] != "send" {
		t.Errorf("dead-letter channel %v", dlq)
	}
	if h := get(t, raw, "#/components/messages/deadLetter")["headers"].(map[string]any)["properties"].(map[string]any); h[core.HeaderDLTInvalidFields] == nil {
		t.Errorf("dead-letter headers lack %s", core.HeaderDLTInvalidFields)
	}
}

func checkKeyword(t *testing.T, props map[string]any, prop, kw string, want any) {
	t.Helper()
	p, ok := props[prop].(map[string]any)
	if !ok {
		t.Errorf("no property %s in %v", prop, props)
		return
	}
	if fmt.Sprint(p[kw]) != fmt.Sprint(want) {
		t.Errorf("property %s: %s = %v, want %v", prop, kw, p[kw], want)
	}
}

// envelopePart is the part of a message's payload that narrows the envelope.
func envelopePart(t *testing.T, raw map[string]any, msg string) map[string]any {
	t.Helper()
	all := get(t, raw, "#/components/messages/"+msg+"/payload")["allOf"].([]any)
	if all[0].(map[string]any)["$ref"] != "#/components/schemas/EventObject" {
		t.Fatalf("message %s payload is not the envelope: %v", msg, all)
	}
	return all[1].(map[string]any)["properties"].(map[string]any)
}

func dataSchema(t *testing.T, raw map[string]any, msg string) map[string]any {
	t.Helper()
	return envelopePart(t, raw, msg)["data"].(map[string]any)
}

func eventSchema(t *testing.T, raw map[string]any, msg string) map[string]any {
	t.Helper()
	return envelopePart(t, raw, msg)["event"].(map[string]any)
}

func example(t *testing.T, raw map[string]any, msg string) map[string]any {
	t.Helper()
	exs := get(t, raw, "#/components/messages/"+msg)["examples"].([]any)
	return exs[0].(map[string]any)["payload"].(map[string]any)
}

func TestUntypedRouterDocument(t *testing.T) {
	doc, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{Location: "greeter", Router: untypedRouter(), DeadLetterTopic: "greeter-dead"})
	if err != nil {
		t.Fatal(err)
	}
	raw := validate(t, doc)
	if got := keys(raw["operations"].(map[string]any)); !slices.Equal(got, []string{"deadLetter", "greet._star", "greet.hello"}) {
		t.Errorf("operations %v", got)
	}
	if info := raw["info"].(map[string]any); info["title"] != "greeter" || info["version"] != "0.0.0" {
		t.Errorf("default info %v", info)
	}
	if _, ok := raw["channels"].(map[string]any)["greeter-dead"]; !ok {
		t.Errorf("dead-letter channel missing: %v", keys(raw["channels"].(map[string]any)))
	}
	// No typed payload: only the library's own schemas.
	if got := keys(raw["components"].(map[string]any)["schemas"].(map[string]any)); !slices.Equal(got, []string{"AuditEntry", "ErrorReplyData", "EventObject", "FieldError"}) {
		t.Errorf("schemas %v", got)
	}
}

func TestSeveralServicesDocument(t *testing.T) {
	doc, err := asyncapi.Build(asyncapi.Info{Title: "Both", Version: "1"},
		asyncapi.Service{Location: "shop", Router: typedRouter()},
		asyncapi.Service{Location: "greeter", Router: untypedRouter()},
		asyncapi.Service{Location: "idle"}) // no router yet
	if err != nil {
		t.Fatal(err)
	}
	raw := validate(t, doc)
	ops := raw["operations"].(map[string]any)
	for _, id := range []string{"shop.orders.create", "greeter.greet.hello", "shop.deadLetter", "greeter.deadLetter", "idle.deadLetter"} {
		if ops[id] == nil {
			t.Errorf("operation %s missing from %v", id, keys(ops))
		}
	}
	if loc := ops["greeter.greet.hello"].(map[string]any)["x-location"]; loc != "greeter" {
		t.Errorf("x-location %v", loc)
	}
	if _, err := asyncapi.Build(asyncapi.Info{}); err == nil {
		t.Error("Build without services: no error")
	}
	if _, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{}); err == nil {
		t.Error("Build of a service without Location: no error")
	}
}

// packageOrder is Order, for tests that declare another type named Order.
type packageOrder = Order

// Two types of the same name get different component names.
func TestSchemaNamesDoNotCollide(t *testing.T) {
	type Order struct { // the package has an Order too
		Other string `json:"other"`
	}
	r := core.NewEventRouter("r")
	core.HandleEvent(r, "a", func(context.Context, Order) (Order, error) { return Order{}, nil })
	outer := core.NewEventRouter("x")
	core.HandleEvent(outer, "c", func(context.Context, CreateOrder) (packageOrder, error) { return packageOrder{}, nil })
	outer.IncludeBinder(r)
	doc, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{Location: "x", Router: outer})
	if err != nil {
		t.Fatal(err)
	}
	raw := validate(t, doc)
	local, pkg := dataSchema(t, raw, "r.a")["$ref"], dataSchema(t, raw, "c.reply")["$ref"]
	if pkg != "#/components/schemas/Order" || local != "#/components/schemas/asyncapi_test.Order" {
		t.Errorf("schemas of the two Order types: %v and %v", pkg, local)
	}
	if p := get(t, raw, "#/components/schemas/asyncapi_test.Order")["properties"].(map[string]any); p["other"] == nil {
		t.Errorf("the local Order's schema: %v", p)
	}
}

// The pattern of a wildcard key matches what core.EventRouter routes to it.
func TestWildcardPatterns(t *testing.T) {
	keysBound := []string{"a.*", "a.#", "#.z", "a.#.z", "*.b.*", "#", "x.*.#"}
	events := []string{"a", "a.b", "a.b.c", "z", "q.z", "a.q.r.z", "a.z", "x.b", "x.b.c", "x", "q.b.r", "q.b", "b"}
	for _, key := range keysBound {
		// A router with just this bind, through nested routers as needed.
		root := core.NewEventRouter("root")
		r := root
		segs := strings.Split(key, ".")
		for _, s := range segs[:len(segs)-1] {
			c := core.NewEventRouter(s)
			r.IncludeBinder(c)
			r = c
		}
		r.BindEvent(segs[len(segs)-1], noop)
		doc, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{Location: "w", Router: root})
		if err != nil {
			t.Fatal(err)
		}
		raw := validate(t, doc)
		var pattern string
		for id, op := range raw["operations"].(map[string]any) {
			if op.(map[string]any)["x-routing-key"] == key {
				pattern = eventSchema(t, raw, id)["pattern"].(string)
			}
		}
		re := regexp.MustCompile(pattern)
		for _, ev := range events {
			_, routed := root.Match(ev)
			if re.MatchString(ev) != routed {
				t.Errorf("key %s, pattern %s: event %q matches %v, routed %v", key, pattern, ev, re.MatchString(ev), routed)
			}
		}
	}
}

// Types that are not structs: any JSON, scalars, maps, raw JSON.
func TestNonStructTypes(t *testing.T) {
	r := core.NewEventRouter("r")
	core.HandleEvent(r, "any", func(context.Context, any) (json.RawMessage, error) { return nil, nil })
	core.HandleEvent(r, "scalar", func(context.Context, string) (*int, error) { return nil, nil })
	core.OnEvent(r, "map", func(context.Context, map[string]int) error { return nil })
	doc, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{Location: "x", Router: r})
	if err != nil {
		t.Fatal(err)
	}
	raw := validate(t, doc)
	for msg, want := range map[string]string{"any": "map[]", "any.reply": "map[]", "scalar": "map[type:string]",
		"scalar.reply": "map[type:integer]", "map": "map[additionalProperties:map[type:integer] type:object]"} {
		if got := fmt.Sprint(dataSchema(t, raw, msg)); got != want {
			t.Errorf("%s: data schema %s, want %s", msg, got, want)
		}
	}
}

// Fields flattens nested objects and arrays of objects, each type once on a path.
func TestFields(t *testing.T) {
	doc, err := asyncapi.Build(asyncapi.Info{}, asyncapi.Service{Location: "shop", Router: typedRouter()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, op := range doc.Describe() {
		for _, part := range []struct {
			name string
			s    asyncapi.Schema
		}{{"data", op.Data}, {"reply", op.Reply}} {
			for _, f := range doc.Fields(part.s) {
				got[op.RoutingKey+" "+part.name+" "+f.Path] = fmt.Sprintf("%s %v %s %q", f.Type, f.Required, strings.Join(f.Rules, ", "), f.Description)
			}
		}
	}
	want := map[string]string{
		"orders.create data customer":        `string (email) true  ""`,
		"orders.create data items[].sku":     `string true length = 6 "Stock keeping unit"`,
		"orders.create data items[].qty":     `integer false ≥ 1, ≤ 99 ""`,
		"orders.create data channel":         `string false one of web | shop | phone ""`,
		"orders.create reply parent":         `Order false  ""`,
		"orders.v2.get data id":              `integer true ≥ 1 ""`,
		"orders.v2.get reply [].items[].sku": `string true length = 6 "Stock keeping unit"`,
		"orders.v2.get reply [].parent":      `Order false  ""`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.Contains(k, "parent.") {
			t.Errorf("the recursive Order is expanded again: %s", k)
		}
	}
}
