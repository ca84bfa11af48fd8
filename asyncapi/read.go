package asyncapi

import (
	"fmt"
	"slices"
	"strings"
)

// OperationInfo is an operation of a document as tools print it.
type OperationInfo struct {
	ID         string
	Location   string // the service's topic (x-location)
	RoutingKey string // as bound, wildcards included
	Kind       string // core.RouteKind, or "send" for the dead-letter operation
	Summary    string
	Data       Schema // the schema of the event's data; nil or empty when not described
	Reply      Schema // the schema of the reply's data; nil without a reply
}

// Describe lists d's operations, receive operations first, by Location and
// routing key: their kinds and the schemas of their data and reply data (as
// written, with $refs; see Resolve).
func (d *Document) Describe() []OperationInfo {
	var out []OperationInfo
	for id, op := range d.Operations {
		info := OperationInfo{ID: id, Location: op.Location, RoutingKey: op.RoutingKey, Kind: op.Kind, Summary: op.Summary}
		if op.Action == "send" {
			info.Kind = "send"
		}
		if len(op.Messages) > 0 {
			info.Data = d.messageData(op.Messages[0].Ref)
		}
		if op.Reply != nil && len(op.Reply.Messages) > 0 {
			info.Reply = d.messageData(op.Reply.Messages[0].Ref)
			if info.Reply == nil {
				info.Reply = Schema{}
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b OperationInfo) int {
		if (a.Kind == "send") != (b.Kind == "send") {
			if a.Kind == "send" {
				return 1
			}
			return -1
		}
		if c := strings.Compare(a.Location, b.Location); c != 0 {
			return c
		}
		return strings.Compare(a.RoutingKey+a.ID, b.RoutingKey+b.ID)
	})
	return out
}

// messageData follows a reference to a channel's message to the schema of
// its envelope's data.
func (d *Document) messageData(ref string) Schema {
	msg := d.message(ref)
	if msg == nil {
		return nil
	}
	all, _ := msg.Payload["allOf"].([]any)
	if len(all) < 2 {
		return nil
	}
	part, _ := all[1].(map[string]any)
	props, _ := part["properties"].(map[string]any)
	data, _ := props["data"].(map[string]any)
	return data
}

func (d *Document) message(ref string) *Message {
	for i := 0; i < 4; i++ {
		parts := pointerTokens(ref)
		switch {
		case len(parts) == 4 && parts[0] == "channels" && parts[2] == "messages":
			ch := d.Channels[parts[1]]
			if ch == nil {
				return nil
			}
			ref = ch.Messages[parts[3]].Ref
		case len(parts) == 3 && parts[0] == "components" && parts[1] == "messages" && d.Components != nil:
			return d.Components.Messages[parts[2]]
		default:
			return nil
		}
	}
	return nil
}

func pointerTokens(ref string) []string {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	toks := strings.Split(ref[2:], "/")
	for i, t := range toks {
		toks[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
	}
	return toks
}

// Resolve follows s's $ref into components.schemas; it returns s itself
// when s is no reference, nil when the reference leads nowhere.
func (d *Document) Resolve(s Schema) Schema {
	for i := 0; i < 16 && s != nil; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		toks := pointerTokens(ref)
		if len(toks) != 3 || toks[0] != "components" || toks[1] != "schemas" || d.Components == nil {
			return nil
		}
		s = d.Components.Schemas[toks[2]]
	}
	return s
}

// Field is a member of an object schema, or of an object nested in it, as
// Fields lists it.
type Field struct {
	Path        string // "items[].sku"
	Type        string // "string (email)", "array of Item", ...
	Required    bool
	Rules       []string // "length ≤ 40", "one of a | b", ...
	Description string
}

// Fields lists the members of the object s describes, nested objects (and
// arrays of objects) flattened into paths, each type once on a path.
func (d *Document) Fields(s Schema) []Field {
	var out []Field
	seen := map[string]bool{}
	if ref, ok := s["$ref"].(string); ok {
		seen[ref] = true
	}
	root := d.Resolve(s)
	prefix := ""
	if root != nil && root["type"] == "array" {
		if items, ok := root["items"].(map[string]any); ok {
			if ref, ok := items["$ref"].(string); ok {
				seen[ref] = true
			}
			root, prefix = d.Resolve(items), "[]."
		}
	}
	d.fields(root, prefix, 0, seen, &out)
	return out
}

func (d *Document) fields(s Schema, prefix string, depth int, seen map[string]bool, out *[]Field) {
	if s == nil || depth > 4 {
		return
	}
	props, _ := s["properties"].(map[string]any)
	required, _ := s["required"].([]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		raw, _ := props[name].(map[string]any)
		p := d.Resolve(raw)
		f := Field{Path: prefix + name, Type: d.TypeName(raw), Required: slices.Contains(required, any(name))}
		if p != nil {
			f.Rules = Rules(p)
			f.Description, _ = p["description"].(string)
		}
		if desc, ok := raw["description"].(string); ok {
			f.Description = desc
		}
		*out = append(*out, f)
		ref, _ := raw["$ref"].(string)
		if p == nil || (ref != "" && seen[ref]) {
			continue
		}
		seen[ref] = true
		if _, ok := p["properties"]; ok {
			d.fields(p, prefix+name+".", depth+1, seen, out)
		}
		if items, ok := p["items"].(map[string]any); ok && p["type"] == "array" {
			iref, _ := items["$ref"].(string)
			if it := d.Resolve(items); it != nil && !seen[iref] {
				seen[iref] = true
				d.fields(it, prefix+name+"[].", depth+1, seen, out)
				delete(seen, iref)
			}
		}
		delete(seen, ref)
	}
}

// TypeName is a short name of the type s describes: a component's name,
// "array of X", "string (email)", "any".
func (d *Document) TypeName(s Schema) string {
	if len(s) == 0 {
		return "any"
	}
	if ref, ok := s["$ref"].(string); ok {
		return ref[strings.LastIndexByte(ref, '/')+1:]
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[k].([]any); ok {
			var names []string
			for _, a := range alts {
				if m, ok := a.(map[string]any); ok {
					names = append(names, d.TypeName(m))
				}
			}
			return strings.Join(names, " | ")
		}
	}
	var t string
	switch v := s["type"].(type) {
	case string:
		t = v
	case []any:
		var ts []string
		for _, x := range v {
			ts = append(ts, fmt.Sprint(x))
		}
		t = strings.Join(ts, " | ")
	}
	switch {
	case t == "array":
		items, _ := s["items"].(map[string]any)
		return "array of " + d.TypeName(items)
	case t == "" && s["properties"] != nil:
		t = "object"
	case t == "":
		return "any"
	}
	if f, ok := s["format"].(string); ok {
		t += " (" + f + ")"
	}
	return t
}

// Rules lists the constraints s puts on a value, for people.
func Rules(s Schema) []string {
	var out []string
	num := func(k string) (string, bool) {
		v, ok := s[k].(float64)
		return fmt.Sprint(v), ok
	}
	if v, ok := s["const"]; ok {
		out = append(out, fmt.Sprintf("= %v", v))
	}
	if e, ok := s["enum"].([]any); ok {
		vals := make([]string, len(e))
		for i, v := range e {
			vals[i] = fmt.Sprint(v)
		}
		out = append(out, "one of "+strings.Join(vals, " | "))
	}
	minLen, okMin := num("minLength")
	maxLen, okMax := num("maxLength")
	if okMin && okMax && minLen == maxLen {
		out = append(out, "length = "+minLen)
	} else {
		if okMin {
			out = append(out, "length ≥ "+minLen)
		}
		if okMax {
			out = append(out, "length ≤ "+maxLen)
		}
	}
	for _, r := range []struct{ key, label string }{
		{"minimum", "≥ "}, {"exclusiveMinimum", "> "},
		{"maximum", "≤ "}, {"exclusiveMaximum", "< "}, {"minItems", "items ≥ "}, {"maxItems", "items ≤ "},
	} {
		if v, ok := num(r.key); ok {
			out = append(out, r.label+v)
		}
	}
	if p, ok := s["pattern"].(string); ok {
		out = append(out, "pattern "+p)
	}
	return out
}
