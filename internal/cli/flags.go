package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is a flag.FlagSet with a complete help text, whose flags may come
// before, between or after the positional arguments.
type flagSet struct {
	*flag.FlagSet
	synopsis string // after "kafka-broker "
	about    string
	more     string // environment, exit codes, examples
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
			line := "  --" + f.Name
			if len(f.Name) == 1 {
				line = "  -" + f.Name
			}
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
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
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
		return fmt.Errorf("want key=value, got %q", s)
	}
	if *p == nil {
		*p = propsFlag{}
	}
	(*p)[strings.TrimSpace(k)] = v
	return nil
}
