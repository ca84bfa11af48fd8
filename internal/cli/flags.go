package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet with a complete help text, whose flags may come
// before, between or after the positional arguments, and whose errors read
// like the environment's: "--timeout: not a duration: "banana"".
type flagSet struct {
	*flag.FlagSet
	synopsis string // after "kafka-broker "
	about    string
	more     string // environment, exit codes, examples
	badValue error  // the flag value Parse stopped at, named
}

func newFlagSet(name, synopsis, about, more string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed by run
	if synopsis == "" {
		synopsis = name
	}
	return &flagSet{FlagSet: fs, synopsis: synopsis, about: about, more: more}
}

func (fs *flagSet) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: kafka-broker %s\n\n%s\n", fs.synopsis, strings.TrimSpace(fs.about))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			if tn, ok := f.Value.(interface{ typeName() string }); ok && typ == "value" {
				typ = tn.typeName()
			}
			line := "  " + flagName(f.Name)
			if typ != "" {
				line += " " + typ
			}
			if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" {
				usage += fmt.Sprintf(" (default %s)", def)
			}
			fmt.Fprintf(w, "%s\n      %s\n", line, usage)
		})
	}
	if fs.more != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(fs.more))
	}
}

// parse parses args, flags anywhere ("--" ends them), and checks the count
// of positional arguments. It returns flag.ErrHelp for -h/--help.
func (fs *flagSet) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fs.parseError(err)
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, usagef("missing arguments: want %s", fs.synopsis)
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usagef("too many arguments: %q (want %s)", pos[maxArgs:], fs.synopsis)
	}
	return pos, nil
}

// parseError turns an error of Parse into a usage error in the style of the
// environment's: "--name: what is wrong".
func (fs *flagSet) parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if fs.badValue != nil {
		return &usageError{fs.badValue.Error()}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return usagef("%s: no such flag", flagName(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return usagef("%s: needs a value", flagName(name))
	}
	return &usageError{msg}
}

// flagName is how the help and the errors spell a flag: -X, --timeout.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// Var defines a flag whose bad values are reported as "--name: <Set's
// error>".
func (fs *flagSet) Var(v flag.Value, name, usage string) {
	fs.FlagSet.Var(namedValue{Value: v, name: name, fs: fs}, name, usage)
}

// DurationVar defines a duration flag: "--name: not a duration: "x"".
func (fs *flagSet) DurationVar(p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{p}, name, usage)
}

// IntVar defines an integer flag: "--name: not an integer: "x"".
func (fs *flagSet) IntVar(p *int, name string, value int, usage string) {
	*p = value
	fs.Var(intValue{p}, name, usage)
}

// BoolVar defines a boolean flag: "--name: not true or false: "x"".
func (fs *flagSet) BoolVar(p *bool, name string, value bool, usage string) {
	*p = value
	fs.Var(boolValue{p}, name, usage)
}

// namedValue records, for parseError, which flag a bad value was given to.
type namedValue struct {
	flag.Value
	name string
	fs   *flagSet
}

func (v namedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		v.fs.badValue = fmt.Errorf("%s: %w", flagName(v.name), err)
		return err
	}
	return nil
}

// IsBoolFlag tells the flag package whether the flag takes no value.
func (v namedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (v namedValue) typeName() string {
	if tn, ok := v.Value.(interface{ typeName() string }); ok {
		return tn.typeName()
	}
	return "value"
}

type durationValue struct{ p *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration: %q", s)
	}
	*v.p = d
	return nil
}

func (v durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (durationValue) typeName() string { return "duration" }

type intValue struct{ p *int }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	*v.p = n
	return nil
}

func (v intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (intValue) typeName() string { return "int" }

type boolValue struct{ p *bool }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not true or false: %q", s)
	}
	*v.p = b
	return nil
}

func (v boolValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(*v.p)
}

func (boolValue) IsBoolFlag() bool { return true }

// fail reports a parse error (or prints the help) and returns the exit code.
func (fs *flagSet) fail(env Env, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fs.help(env.Stdout)
		return ExitOK
	}
	return fail(env, fs.Name(), err)
}

// propsFlag collects repeated key=value librdkafka properties.
type propsFlag map[string]string

func (p *propsFlag) String() string {
	if p == nil || len(*p) == 0 {
		return ""
	}
	var parts []string
	for k, v := range *p {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (p *propsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("not key=value: %q", s)
	}
	if *p == nil {
		*p = propsFlag{}
	}
	(*p)[strings.TrimSpace(k)] = v
	return nil
}
