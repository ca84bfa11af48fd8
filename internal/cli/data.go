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
	return fmt.Errorf("want auto, human or json")
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
