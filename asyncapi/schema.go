package asyncapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
)

// schemas turns Go types into JSON Schemas with invopop/jsonschema, named
// types going to components.schemas once each, referred to by $ref.
type schemas struct {
	r      *jsonschema.Reflector
	names  map[string]reflect.Type // component name -> type
	byType map[reflect.Type]string
	defs   map[string]Schema
}

func newSchemas() *schemas {
	s := &schemas{names: map[string]reflect.Type{}, byType: map[reflect.Type]string{}, defs: map[string]Schema{}}
	s.r = &jsonschema.Reflector{
		Anonymous: true,
		// Unknown members are ignored when decoding, and the Python package
		// adds freely: extra members are allowed.
		AllowAdditionalProperties: true,
		// Required is what validation requires (validate:"required"), added
		// below, or jsonschema:"required"; not every field without omitempty.
		RequiredFromJSONSchemaTags: true,
		Namer:                      s.name,
	}
	return s
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// name is the component name of t: its Go name, qualified by its package's
// last element when another type took the name already.
func (s *schemas) name(t reflect.Type) string {
	if n, ok := s.byType[t]; ok {
		return n
	}
	base := t.Name()
	if base == "" {
		return "" // unnamed (slices, maps, struct literals): inline, not a component
	}
	if i := strings.IndexByte(base, '['); i >= 0 { // generic: Page[pkg/path.Order] -> Page_Order
		args := strings.Split(strings.TrimSuffix(base[i+1:], "]"), ",")
		for j, a := range args {
			args[j] = a[strings.LastIndexAny(a, "./")+1:]
		}
		base = base[:i] + "_" + strings.Join(args, "_")
	}
	base = strings.Trim(nameChars.ReplaceAllString(base, "_"), "_")
	n := base
	if other, taken := s.names[n]; taken && other != t {
		pkg := t.PkgPath()
		n = nameChars.ReplaceAllString(pkg[strings.LastIndexByte(pkg, '/')+1:], "_") + "." + base
		for i := 2; ; i++ {
			if other, taken := s.names[n]; !taken || other == t {
				break
			}
			n = fmt.Sprintf("%s.%s%d", pkg[strings.LastIndexByte(pkg, '/')+1:], base, i)
		}
	}
	s.names[n], s.byType[t] = t, n
	return n
}

// schema returns the schema of t, its named types moved to s.defs.
func (s *schemas) schema(t reflect.Type) (Schema, error) {
	b, err := json.Marshal(s.r.ReflectFromType(t))
	if err != nil {
		return nil, fmt.Errorf("asyncapi: schema of %s: %w", t, err)
	}
	b = []byte(strings.ReplaceAll(string(b), `"#/$defs/`, `"#/components/schemas/`))
	var root Schema
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("asyncapi: schema of %s: %w", t, err)
	}
	delete(root, "$schema")
	delete(root, "$id")
	if defs, ok := root["$defs"].(map[string]any); ok {
		for name, d := range defs {
			def, _ := d.(map[string]any)
			if typ, ok := s.names[name]; ok && def != nil {
				applyValidateTags(typ, def)
			}
			s.defs[name] = def
		}
		delete(root, "$defs")
	}
	if et := deref(t); et.Kind() == reflect.Struct && et.Name() == "" {
		applyValidateTags(et, root) // an unnamed struct is inline
	}
	return root, nil
}

// applyValidateTags adds to the schema of struct type t what the validate
// tags of its fields say: required fields, bounds, enumerations, formats.
func applyValidateTags(t reflect.Type, s Schema) {
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return
	}
	props, _ := s["properties"].(map[string]any)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.Anonymous && !f.IsExported()) {
			continue
		}
		if f.Anonymous && name == "" {
			applyValidateTags(f.Type, s) // embedded: its fields are this object's
			continue
		}
		if name == "" {
			name = f.Name
		}
		rules := f.Tag.Get("validate")
		if rules == "" {
			continue
		}
		prop, _ := props[name].(map[string]any)
		for _, rule := range strings.Split(rules, ",") {
			tag, param, _ := strings.Cut(rule, "=")
			if tag == "dive" {
				break // the rules after dive are the elements'
			}
			if tag == "required" {
				s["required"] = appendUnique(s["required"], name)
				continue
			}
			if prop != nil && prop["$ref"] == nil {
				applyRule(prop, f.Type, tag, param)
			}
		}
	}
}

func appendUnique(list any, name string) []any {
	l, _ := list.([]any)
	for _, n := range l {
		if n == name {
			return l
		}
	}
	return append(l, name)
}

// applyRule maps one validator rule onto the keywords of a property.
func applyRule(prop Schema, t reflect.Type, tag, param string) {
	if f, ok := ruleFormats[tag]; ok {
		prop["format"] = f
		return
	}
	lo, hi := boundKeywords(deref(t))
	if tag == "oneof" {
		if enum := enumOf(param, lo == "minimum"); len(enum) > 0 {
			prop["enum"] = enum
		}
		return
	}
	num, err := strconv.ParseFloat(param, 64)
	if err != nil || lo == "" {
		return
	}
	switch tag {
	case "min", "gte":
		prop[lo] = num
	case "max", "lte":
		prop[hi] = num
	case "gt", "lt":
		if lo == "minimum" {
			prop[map[string]string{"gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}[tag]] = num
		}
	case "len":
		if lo != "minimum" {
			prop[lo], prop[hi] = num, num
		}
	}
}

// ruleFormats are the validator rules that set a string's format.
var ruleFormats = map[string]string{
	"email": "email",
	"url":   "uri", "uri": "uri", "http_url": "uri",
	"uuid": "uuid", "uuid4": "uuid", "uuid_rfc4122": "uuid", "uuid4_rfc4122": "uuid",
	"datetime": "date-time",
}

// boundKeywords are the keywords of t's lower and upper bounds; none for a
// type without bounds.
func boundKeywords(t reflect.Type) (lo, hi string) {
	switch t.Kind() {
	case reflect.String:
		return "minLength", "maxLength"
	case reflect.Slice, reflect.Array:
		return "minItems", "maxItems"
	case reflect.Map:
		return "minProperties", "maxProperties"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "minimum", "maximum"
	}
	return "", ""
}

// enumOf is the enum of a oneof rule: its space-separated values, numbers
// when numeric.
func enumOf(param string, numeric bool) []any {
	var enum []any
	for _, v := range strings.Fields(param) {
		if !numeric {
			enum = append(enum, v)
		} else if n, err := strconv.ParseFloat(v, 64); err == nil {
			enum = append(enum, n)
		}
	}
	return enum
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
