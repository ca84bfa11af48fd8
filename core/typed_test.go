package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafka-broker/kafka-broker-go/core"
	"github.com/kafka-broker/kafka-broker-go/internal/kafkatest"
)

type item struct {
	SKU string `json:"sku" validate:"required"`
	Qty int    `json:"qty" validate:"min=1"`
}

type createOrder struct {
	Customer string `json:"customer" validate:"required"`
	Items    []item `json:"items" validate:"required,min=1,dive"`
}

type order struct {
	ID       int    `json:"id"`
	Customer string `json:"customer"`
	Items    []item `json:"items"`
}

type orderCreated struct {
	ID int `json:"id" validate:"required"`
}

// typedResponder starts a service with typed handlers:
//
//	orders.create  HandleEvent: createOrder -> order; customer "nobody" gets ErrorReply(404)
//	orders.created OnEvent: orderCreated, handed to the returned channel
func typedResponder(t *testing.T) (*core.Manager, <-chan orderCreated) {
	t.Helper()
	created := make(chan orderCreated, 16)
	orders := core.NewEventRouter("orders")
	core.HandleEvent(orders, "create", func(_ context.Context, in createOrder) (order, error) {
		if in.Customer == "nobody" {
			return order{}, core.ErrorReply(http.StatusNotFound, "no customer %q", in.Customer)
		}
		return order{ID: 7, Customer: in.Customer, Items: in.Items}, nil
	})
	core.OnEvent(orders, "created", func(_ context.Context, in orderCreated) error {
		created <- in
		return nil
	})
	root := core.NewEventRouter("svc")
	root.IncludeBinder(orders)
	cfg := kafkatest.Config(t, "typed")
	cfg.MaxAttempts = 1
	return startRouted(t, cfg, root), created
}

func TestTypedHandlers(t *testing.T) {
	t.Parallel()
	svc, created := typedResponder(t)
	topic := svc.Config().Location
	m := startManager(t, kafkatest.Config(t, "caller"))
	ctx := kafkatest.Context(t, 2*time.Minute)

	t.Run("request and reply", func(t *testing.T) {
		in := createOrder{Customer: "ada", Items: []item{{SKU: "a-1", Qty: 2}}}
		got, rep, err := core.Call[order](ctx, m, topic, "orders.create", in)
		if err != nil {
			t.Fatalf("Call: %v", err)
		}
		want := order{ID: 7, Customer: "ada", Items: in.Items}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("reply %+v, want %+v", got, want)
		}
		if rep.Status != core.StatusCompleted || len(rep.AuditLog) != 2 {
			t.Errorf("reply envelope: status %q, %d audit entries; want completed, 2", rep.Status, len(rep.AuditLog))
		}
	})

	tests := []struct {
		name   string
		data   any
		status int
		fields []core.FieldError // Field and Tag compared; Message must name the field
	}{
		{"validation", map[string]any{"items": []any{map[string]any{"sku": "", "qty": 0}}}, 422, []core.FieldError{
			{Field: "customer", Tag: "required"}, {Field: "items[0].sku", Tag: "required"}, {Field: "items[0].qty", Tag: "min"}}},
		{"empty", nil, 422, []core.FieldError{{Field: "customer", Tag: "required"}, {Field: "items", Tag: "required"}}},
		{"wrong field type", json.RawMessage(`{"customer":"ada","items":[{"sku":"a","qty":"two"}]}`), 422,
			[]core.FieldError{{Field: "items.qty", Tag: "type"}}},
		{"not an object", json.RawMessage(`"ada"`), 400, nil},
	}
	for _, tt := range tests {
		t.Run("invalid: "+tt.name, func(t *testing.T) {
			_, rep, err := core.Call[order](ctx, m, topic, "orders.create", tt.data)
			var re *core.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("Call: %v, want a *RemoteError", err)
			}
			if re.StatusCode != tt.status || re.Status != core.StatusError || rep.Status != core.StatusError {
				t.Errorf("status code %d, status %q; want %d, error", re.StatusCode, re.Status, tt.status)
			}
			if re.Message == "" || re.CorrelationID != rep.CorrelationID || re.Event != "orders.create" {
				t.Errorf("remote error %+v lacks message, correlation ID or event", re)
			}
			checkFields(t, re.Fields, tt.fields)
			// The error reply carries the request's data, as Python's as_reply does.
			var d core.ErrorReplyData
			if err := json.Unmarshal(rep.Data, &d); err != nil || d.StatusCode != tt.status || len(d.Payload) == 0 {
				t.Errorf("reply data %s: want message, status_code %d, payload", rep.Data, tt.status)
			}
		})
	}

	t.Run("error reply chosen by the handler", func(t *testing.T) {
		_, _, err := core.Call[order](ctx, m, topic, "orders.create", createOrder{Customer: "nobody", Items: []item{{"a", 1}}})
		var re *core.RemoteError
		if !errors.As(err, &re) || re.StatusCode != 404 || re.Message != `no customer "nobody"` || len(re.Fields) != 0 {
			t.Fatalf("Call: %v, want a 404 RemoteError", err)
		}
	})

	t.Run("event", func(t *testing.T) {
		ev, _ := core.NewEventObject("orders.created", orderCreated{ID: 42})
		if err := m.Produce(ctx, topic, ev); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, created, "orders.created"); got.ID != 42 {
			t.Errorf("event handler got %+v", got)
		}
	})

	t.Run("invalid event requested", func(t *testing.T) {
		// A Go request to an event handler gets the validation error back
		// rather than a timeout.
		_, _, err := core.Call[struct{}](ctx, m, topic, "orders.created", map[string]any{})
		var re *core.RemoteError
		if !errors.As(err, &re) || re.StatusCode != 422 {
			t.Fatalf("Call: %v, want a 422 RemoteError", err)
		}
		checkFields(t, re.Fields, []core.FieldError{{Field: "id", Tag: "required"}})
	})

	t.Run("invalid event produced", func(t *testing.T) {
		ev, _ := core.NewEventObject("orders.created", map[string]any{"id": "x"})
		if err := m.Produce(ctx, topic, ev); err != nil {
			t.Fatal(err)
		}
	})

	// Every refused event is dead-lettered with kind "invalid" and its fields;
	// the handler's chosen 404 is not.
	deadLetters := len(tests) + 2 // the table, the event requested, the event produced
	recs := kafkatest.ReadTopic(t, svc.Config().DeadLetterTopic, deadLetters, time.Minute)
	for _, r := range recs {
		var ev core.EventObject
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("dead letter value: %v", err)
		}
		if k := kafkatest.Header(r, core.HeaderDLTErrorKind); k != core.DeadLetterInvalid {
			t.Errorf("dead letter of %s: kind %q, want invalid", ev.Event, k)
		}
		var fields []core.FieldError
		if err := json.Unmarshal([]byte(kafkatest.Header(r, core.HeaderDLTInvalidFields)), &fields); err != nil {
			t.Errorf("dead letter of %s: fields header %q: %v", ev.Event, kafkatest.Header(r, core.HeaderDLTInvalidFields), err)
		}
		if strings.Contains(string(r.Value), "nobody") {
			t.Errorf("the handler's error reply was dead-lettered: %s", r.Value)
		}
	}
	if st := svc.Stats(); st.DeadLettered != uint64(deadLetters) {
		t.Errorf("dead-lettered %d, want %d", st.DeadLettered, deadLetters)
	}
}

func checkFields(t *testing.T, got, want []core.FieldError) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("fields %+v, want %+v", got, want)
		return
	}
	for i := range want {
		field := want[i].Field[strings.LastIndexAny(want[i].Field, ".]")+1:]
		if got[i].Field != want[i].Field || got[i].Tag != want[i].Tag || !strings.Contains(got[i].Message, field) {
			t.Errorf("field %d: %+v, want field %q tag %q and a message naming %q", i, got[i], want[i].Field, want[i].Tag, field)
		}
	}
}

// A reply written the Python package's way (status "completed", event
// "respond", to the Location in the request's last audit entry) decodes
// with Call.
func TestCallDecodesPythonStyleReply(t *testing.T) {
	t.Parallel()
	py := core.NewEventRouter("py")
	var svc *core.Manager
	py.BindEvent("greet", func(ctx context.Context, ev *core.EventObject) error {
		rep := ev.Clone()
		rep.Event, rep.Status = "respond", core.StatusCompleted
		if err := rep.SetData(map[string]any{"message": "hello", "count": 2}); err != nil {
			return err
		}
		return svc.Produce(ctx, ev.AuditLog[len(ev.AuditLog)-1].Location, rep)
	})
	root := core.NewEventRouter("root")
	root.IncludeBinder(py)
	svc = startRouted(t, kafkatest.Config(t, "py-style"), root)
	cfg := kafkatest.Config(t, "caller")
	cfg.DisableReplyTopic = true // as a Python requester: replies on the Location
	m := startManager(t, cfg)

	type greeting struct {
		Message string `json:"message"`
		Count   int    `json:"count"`
	}
	got, rep, err := core.Call[greeting](kafkatest.Context(t, time.Minute), m, svc.Config().Location, "py.greet", nil)
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if got != (greeting{"hello", 2}) || rep.Event != "respond" {
		t.Errorf("Call = %+v (event %q), want hello 2 (respond)", got, rep.Event)
	}
}

func TestRemoteErrorFromPythonErrorReply(t *testing.T) {
	t.Parallel()
	// EventObject.as_reply() of the Python package, status "error".
	rep := &core.EventObject{CorrelationID: "c1", Status: "error", Event: "x.y",
		Data: json.RawMessage(`{"message": "Internal Server Error", "status_code": 500, "payload": {"a": 1}}`)}
	re := rep.RemoteError()
	if re == nil || re.StatusCode != 500 || re.Message != "Internal Server Error" || string(re.Payload) != `{"a": 1}` {
		t.Fatalf("RemoteError() = %+v", re)
	}
	if !strings.Contains(re.Error(), "500") || !strings.Contains(re.Error(), "Internal Server Error") {
		t.Errorf("Error() = %q", re.Error())
	}
	for _, status := range []string{"completed", "success", "pending", "ongoing"} {
		if (&core.EventObject{Status: status}).RemoteError() != nil {
			t.Errorf("status %q read as an error reply", status)
		}
	}
	odd := &core.EventObject{Status: "cancelled", Data: json.RawMessage(`[1]`)}
	if re := odd.RemoteError(); re == nil || re.Status != "cancelled" || re.Message != "[1]" {
		t.Errorf("cancelled reply with odd data: %+v", re)
	}
}

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	type nested struct {
		When  time.Time `json:"when"`
		Email string    `json:"email" validate:"omitempty,email"`
	}
	type input struct {
		Name   string  `json:"name" validate:"required"`
		Age    int     `json:"age" validate:"gte=0,lte=150"`
		Nested *nested `json:"nested"`
		Hidden string  `json:"-"`
		Plain  string  // JSON name = Go name
	}
	tests := []struct {
		name   string
		data   string
		status int
		fields []string // "field:tag"
	}{
		{"valid", `{"name":"a","age":3,"nested":{"email":"a@b.c"},"extra":true}`, 0, nil},
		{"required", `{}`, 422, []string{"name:required"}},
		{"range", `{"name":"a","age":200}`, 422, []string{"age:lte"}},
		{"nested", `{"name":"a","nested":{"email":"nope"}}`, 422, []string{"nested.email:email"}},
		{"type", `{"name":1}`, 422, []string{"name:type"}},
		{"time", `{"name":"a","nested":{"when":"yesterday"}}`, 400, nil},
		{"array", `[1]`, 400, nil},
		{"null", `null`, 422, []string{"name:required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in input
			err := core.DecodeValid(&core.EventObject{Event: "e", Data: json.RawMessage(tt.data)}, &in)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("DecodeValid: %v", err)
				}
				return
			}
			var inv *core.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("DecodeValid: %v, want *InvalidError", err)
			}
			var got []string
			for _, f := range inv.Fields {
				got = append(got, f.Field+":"+f.Tag)
			}
			if inv.StatusCode != tt.status || !slices.Equal(got, tt.fields) || inv.Message == "" {
				t.Errorf("got %d %v %q, want %d %v", inv.StatusCode, got, inv.Message, tt.status, tt.fields)
			}
		})
	}
	// Non-struct inputs decode without validation.
	var m map[string]int
	if err := core.DecodeValid(&core.EventObject{Data: json.RawMessage(`{"a":1}`)}, &m); err != nil || m["a"] != 1 {
		t.Errorf("map: %v %v", m, err)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	orders := core.NewEventRouter("orders")
	core.HandleEvent(orders, "create", func(context.Context, createOrder) (order, error) { return order{}, nil })
	core.OnEvent(orders, "*", func(context.Context, orderCreated) error { return nil })
	audit := core.NewEventRouter("audit")
	audit.BindEvent("#", func(context.Context, *core.EventObject) error { return nil })
	v2 := core.NewEventRouter("v2")
	core.HandleEvent(v2, "get", func(context.Context, map[string]any) ([]order, error) { return nil, nil })
	orders.IncludeBinder(v2)
	root := core.NewEventRouter("root")
	root.IncludeBinder(orders)
	root.IncludeBinder(audit)
	root.BindEvent("ping", func(context.Context, *core.EventObject) error { return nil })

	got := root.Routes()
	want := []core.Route{
		{Key: "audit.#", Kind: core.RouteUntyped},
		{Key: "orders.*", Kind: core.RouteEvent, In: reflect.TypeFor[orderCreated]()},
		{Key: "orders.create", Kind: core.RouteRequest, In: reflect.TypeFor[createOrder](), Out: reflect.TypeFor[order]()},
		{Key: "orders.v2.get", Kind: core.RouteRequest, In: reflect.TypeFor[map[string]any](), Out: reflect.TypeFor[[]order]()},
		{Key: "ping", Kind: core.RouteUntyped},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Routes() =\n%+v\nwant\n%+v", got, want)
	}
	// A typed bind is still a bind: duplicates panic like BindEvent's.
	defer func() {
		if recover() == nil {
			t.Error("binding orders.create twice did not panic")
		}
	}()
	core.HandleEvent(orders, "create", func(context.Context, createOrder) (order, error) { return order{}, nil })
}
