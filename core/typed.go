package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Handle returns a HandlerFunc for request/reply: it decodes the event's data
// into In, validates it (struct tags of go-playground/validator, such as
// `validate:"required,min=1"`), calls fn, and replies with its Out.
//
//   - Data that cannot be decoded or fails validation never reaches fn: the
//     request gets an error reply (status "error", status code 400 or 422 and
//     the fields at fault, see ReplyError) and the event goes to the
//     dead-letter topic with kind "invalid", without retries.
//   - An error of fn made with ErrorReply (a *RemoteError) is sent as an
//     error reply with its status code; the event counts as handled.
//   - Any other error of fn is retried and dead-lettered like a HandlerFunc's;
//     the requester gets no reply (wrap it with ErrorReply to send one).
//
// Bind it with BindEvent, or with HandleEvent, which also records In and Out
// for documentation (package asyncapi).
func Handle[In, Out any](fn func(ctx context.Context, in In) (Out, error)) HandlerFunc {
	if fn == nil {
		panic("kafka-broker: Handle: nil function")
	}
	return func(ctx context.Context, ev *EventObject) error {
		m, ok := FromContext(ctx)
		if !ok {
			return Permanent(fmt.Errorf("kafka-broker: handler for %q: no Manager in the context to reply with", ev.Event))
		}
		var in In
		if err := DecodeValid(ev, &in); err != nil {
			return Permanent(errors.Join(err, m.ReplyError(ctx, ev, err)))
		}
		out, err := fn(ctx, in)
		if err != nil {
			var re *RemoteError
			if errors.As(err, &re) {
				return m.ReplyError(ctx, ev, err)
			}
			return err
		}
		return m.Reply(ctx, ev, out)
	}
}

// On returns a HandlerFunc for events that need no reply: it decodes and
// validates the event's data into In like Handle and calls fn. Data that
// cannot be decoded or fails validation is dead-lettered with kind "invalid";
// when the event is a Go request (it names a reply topic), the requester also
// gets the error reply instead of waiting for a reply that never comes.
// Errors of fn are retried and dead-lettered like a HandlerFunc's.
//
// Bind it with BindEvent, or with OnEvent, which also records In.
func On[In any](fn func(ctx context.Context, in In) error) HandlerFunc {
	if fn == nil {
		panic("kafka-broker: On: nil function")
	}
	return func(ctx context.Context, ev *EventObject) error {
		var in In
		if err := DecodeValid(ev, &in); err != nil {
			if m, ok := FromContext(ctx); ok && ev.ReplyTopic() != "" {
				return Permanent(errors.Join(err, m.ReplyError(ctx, ev, err)))
			}
			return Permanent(err)
		}
		return fn(ctx, in)
	}
}

// HandleEvent binds Handle(fn) to name in r, like BindEvent, and records In
// and Out, so Routes and the AsyncAPI document know the request's and the
// reply's types:
//
//	core.HandleEvent(orders, "create", func(ctx context.Context, in CreateOrder) (Order, error) {
//		return Order{ID: 1, Items: in.Items}, nil
//	})
func HandleEvent[In, Out any](r *EventRouter, name string, fn func(ctx context.Context, in In) (Out, error)) {
	r.BindEvent(name, Handle(fn))
	r.setRouteTypes(name, routeTypes{kind: RouteRequest, in: typeOf[In](), out: typeOf[Out]()})
}

// OnEvent binds On(fn) to name in r, like BindEvent, and records In.
func OnEvent[In any](r *EventRouter, name string, fn func(ctx context.Context, in In) error) {
	r.BindEvent(name, On(fn))
	r.setRouteTypes(name, routeTypes{kind: RouteEvent, in: typeOf[In]()})
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Call sends a request with data in to topic (event names the handler there),
// awaits the reply like Request, and decodes the reply's data into Out. It
// returns the reply too, for its audit log. An error reply (status "error" or
// "cancelled") is a *RemoteError, with the fields that failed validation when
// the responder refused the data. Replies of Python services (status
// "completed", event "respond") decode like Go ones.
//
//	order, _, err := core.Call[Order](ctx, m, "orders", "orders.create", CreateOrder{Items: items})
//	var re *core.RemoteError
//	if errors.As(err, &re) && re.StatusCode == 422 { ... re.Fields ... }
func Call[Out any](ctx context.Context, m *Manager, topic, event string, in any) (Out, *EventObject, error) {
	var out Out
	if m == nil {
		return out, nil, errors.New("kafka-broker: call: nil manager")
	}
	ev, err := NewEventObject(event, in)
	if err != nil {
		return out, nil, err
	}
	rep, err := m.Request(ctx, topic, ev)
	if err != nil {
		return out, nil, err
	}
	if re := rep.RemoteError(); re != nil {
		return out, rep, re
	}
	if err := rep.Decode(&out); err != nil {
		return out, rep, errorf("kafka-broker: call %q on %s: reply %s: %w", event, topic, rep.CorrelationID, err)
	}
	return out, rep, nil
}
