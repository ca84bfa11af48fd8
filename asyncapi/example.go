package asyncapi

import (
	"math"
	"slices"
	"strings"
)

// Example returns an example value that validates against schema s: the
// schema's own example, default, const or first enumerated value when it has
// one, else a value built from its type and bounds. $refs are resolved in
// defs (components.schemas); a recursive reference ends with null.
func Example(s any, defs map[string]Schema) any {
	return example(s, defs, map[string]bool{}, 0)
}

func example(v any, defs map[string]Schema, seen map[string]bool, depth int) any {
	s, ok := v.(map[string]any)
	if !ok || depth > 16 {
		return map[string]any{} // true, or an open schema: any JSON; an object is the usual data
	}
	if ex, ok := givenExample(s); ok {
		return ex
	}
	if ex, ok := composedExample(s, defs, seen, depth); ok {
		return ex
	}
	return typedExample(s, defs, seen, depth)
}

// givenExample is the schema's own example, default, const or first
// enumerated value, when it has one.
func givenExample(s map[string]any) (any, bool) {
	if ex, ok := s["examples"].([]any); ok && len(ex) > 0 {
		return ex[0], true
	}
	for _, k := range []string{"default", "const"} {
		if d, ok := s[k]; ok {
			return d, true
		}
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0], true
	}
	return nil, false
}

// composedExample is the example of a $ref, allOf, oneOf or anyOf schema.
func composedExample(s map[string]any, defs map[string]Schema, seen map[string]bool, depth int) (any, bool) {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if seen[name] {
			return nil, true
		}
		seen[name] = true
		defer delete(seen, name)
		return example(defs[name], defs, seen, depth+1), true
	}
	if all, ok := s["allOf"].([]any); ok {
		merged := map[string]any{}
		var last any
		for _, sub := range all {
			last = example(sub, defs, seen, depth+1)
			if obj, ok := last.(map[string]any); ok {
				for k, v := range obj {
					merged[k] = v
				}
			}
		}
		if len(merged) == 0 {
			return last, true
		}
		return merged, true
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[k].([]any); ok {
			for _, alt := range alts {
				if a, ok := alt.(map[string]any); ok && a["type"] == "null" {
					continue
				}
				return example(alt, defs, seen, depth+1), true
			}
		}
	}
	return nil, false
}

// typedExample is a value built from the schema's type and bounds.
func typedExample(s map[string]any, defs map[string]Schema, seen map[string]bool, depth int) any {
	switch schemaType(s) {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		required, _ := s["required"].([]any)
		for name, p := range props {
			v := example(p, defs, seen, depth+1)
			if v == nil && !slices.Contains(required, any(name)) {
				continue // an optional recursive member: left out
			}
			out[name] = v
		}
		return out
	case "array":
		n := int(number(s, "minItems", 1))
		if n < 1 {
			n = 1
		}
		out := make([]any, n)
		for i := range out {
			out[i] = example(s["items"], defs, seen, depth+1)
		}
		return out
	case "string":
		return stringExample(s)
	case "integer":
		return math.Ceil(numberExample(s, 1))
	case "number":
		return numberExample(s, 0.5)
	case "boolean":
		return true
	case "null":
		return nil
	}
	return map[string]any{}
}

// schemaType is s's type, the first that is not "null" when it lists several;
// "object" for a schema with properties and no type.
func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if x != "null" {
				if str, ok := x.(string); ok {
					return str
				}
			}
		}
	}
	if _, ok := s["properties"]; ok {
		return "object"
	}
	return ""
}

func number(s map[string]any, key string, def float64) float64 {
	if n, ok := s[key].(float64); ok {
		return n
	}
	return def
}

func numberExample(s map[string]any, step float64) float64 {
	switch {
	case s["minimum"] != nil:
		return number(s, "minimum", 0)
	case s["exclusiveMinimum"] != nil:
		return number(s, "exclusiveMinimum", 0) + step
	case s["maximum"] != nil && number(s, "maximum", 0) < 0:
		return number(s, "maximum", 0)
	case s["exclusiveMaximum"] != nil && number(s, "exclusiveMaximum", 0) <= 0:
		return number(s, "exclusiveMaximum", 0) - step
	}
	return 0
}

func stringExample(s map[string]any) string {
	var v string
	switch s["format"] {
	case "date-time":
		v = "2024-01-02T15:04:05Z"
	case "date":
		v = "2024-01-02"
	case "time":
		v = "15:04:05Z"
	case "email":
		v = "ada@example.com"
	case "uri":
		v = "https://example.com/"
	case "uuid":
		v = "6f1c2b1e-8d3a-4c55-9a2e-2f7d0c9b1a42"
	default:
		v = "string"
	}
	if n := int(number(s, "minLength", 0)); len(v) < n {
		v += strings.Repeat("x", n-len(v))
	}
	if n, ok := s["maxLength"].(float64); ok && len(v) > int(n) {
		v = v[:int(n)]
	}
	return v
}
