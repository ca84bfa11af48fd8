package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

const dataHelp = "the event's data: `JSON`, @file to read it from a file, or @- from stdin (default {})"

// readData returns the --data value as JSON: inline, from @file or from @-
// (stdin). Empty means {}. Anything that is not valid JSON is a usage error.
func readData(env Env, arg string) (json.RawMessage, error) {
	src := "--data"
	b := []byte(arg)
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		var err error
		switch name {
		case "-":
			src = "stdin"
			b, err = io.ReadAll(env.Stdin)
		case "":
			return nil, usagef("--data @: missing file name (use @- for stdin)")
		default:
			src = name
			b, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usagef("--data: %v", err)
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return nil, usagef("invalid JSON in %s: %v", src, err)
	}
	return json.RawMessage(b), nil
}

// checkObject refuses data that is not a JSON object: services decode an
// event's data into an object (a struct, a dict), so anything else would be
// dead-lettered and the request would wait for its whole timeout.
func checkObject(data json.RawMessage) error {
	if len(data) > 0 && data[0] == '{' {
		return nil
	}
	kind := "a number"
	switch {
	case len(data) == 0:
		kind = "empty"
	case data[0] == '[':
		kind = "an array"
	case data[0] == '"':
		kind = "a string"
	case data[0] == 't' || data[0] == 'f':
		kind = "a boolean"
	case data[0] == 'n':
		kind = "null"
	}
	return usagef("--data: not a JSON object but %s: services decode an event's data into an object", kind)
}

// formatFlag is --format: auto, human or json.
type formatFlag string

const formatHelp = "output `format`: human (one readable line per event), json (one JSON object per line), " +
	"or auto: human on a terminal, json when piped"

func (f *formatFlag) String() string { return string(*f) }

func (f *formatFlag) Set(s string) error {
	switch s {
	case "auto", "human", "json":
		*f = formatFlag(s)
		return nil
	}
	return fmt.Errorf("not auto, human or json: %q", s)
}

// human reports whether events are printed in the human format to w.
func (f formatFlag) human(env Env, w io.Writer) bool {
	switch f {
	case "human":
		return true
	case "json":
		return false
	}
	return isTerminal(env, w)
}
