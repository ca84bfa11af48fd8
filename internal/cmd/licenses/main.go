// Command licenses lists the license of every module that the packages
// of this repository (tests excluded) are built from, and fails when one is
// not recognised, carries copyleft terms, or ships a NOTICE file that the
// repository's NOTICE does not name (Apache-2.0 section 4(d) asks that a
// dependency's NOTICE be carried along).
//
//	go run ./internal/cmd/licenses            # ./..., NOTICE at the root
//	go run ./internal/cmd/licenses ./core/    # what a user of core links
//
// It reads the module cache as `go list` reports it; it needs no network once
// the modules are downloaded. `make licenses` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"go/build"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

func main() {
	notice := flag.String("notice", "NOTICE", "the repository's NOTICE file, which must name every dependency that ships a NOTICE")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./internal/cmd/licenses [-notice file] [packages]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	os.Exit(run(context.Background(), os.Stdout, os.Stderr, ".", *notice, patterns))
}

func goTool() string {
	if p := filepath.Join(build.Default.GOROOT, "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// run prints the report to stdout and the problems to stderr and returns the
// exit code: 0 when every license is recognised and permissive and every
// dependency NOTICE is named in the notice file, 1 otherwise, 2 when the
// dependencies cannot be listed.
func run(ctx context.Context, stdout, stderr io.Writer, dir, noticePath string, patterns []string) int {
	pkgs, err := listDeps(ctx, goTool(), dir, patterns)
	if err != nil {
		fmt.Fprintln(stderr, "licenses:", err)
		return 2
	}
	mods, err := scan(pkgs)
	if err != nil {
		fmt.Fprintln(stderr, "licenses:", err)
		return 2
	}
	var notice string
	if noticePath != "" {
		if !filepath.IsAbs(noticePath) {
			noticePath = filepath.Join(dir, noticePath)
		}
		b, err := os.ReadFile(noticePath)
		if err != nil {
			fmt.Fprintln(stderr, "licenses:", err)
			return 2
		}
		notice = string(b)
	}
	problems := report(stdout, mods, notice)
	for _, p := range problems {
		fmt.Fprintln(stderr, "licenses:", p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

// report writes the table and returns what needs a human.
func report(w io.Writer, mods []*module, notice string) []string {
	var problems []string
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tVERSION\tLICENSE\tFILE")
	for _, m := range mods {
		for i, lf := range m.Licenses {
			path, version := m.Path, m.Version
			if i > 0 {
				path, version = "", ""
			}
			ids := strings.Join(lf.IDs, " AND ")
			switch {
			case len(lf.IDs) == 0:
				ids = "UNKNOWN"
				problems = append(problems, fmt.Sprintf("%s: %s: license not recognised", m.Path, lf.Path))
			case lf.Restricted:
				problems = append(problems, fmt.Sprintf("%s: %s: %s is not a permissive license", m.Path, lf.Path, ids))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", path, version, ids, lf.Path)
		}
		for _, n := range m.Notices {
			fmt.Fprintf(tw, "\t\tNOTICE\t%s\n", n)
			if !strings.Contains(notice, m.Path) {
				problems = append(problems, fmt.Sprintf("%s ships %s; NOTICE must carry it (name the module)", m.Path, n))
			}
		}
	}
	_ = tw.Flush()

	for _, m := range mods {
		if len(m.Bundled) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nlinked into binaries by %s (its LICENSES.txt):\n", m.Path)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range m.Bundled {
			ids := strings.Join(c.IDs, " AND ")
			switch {
			case len(c.IDs) == 0:
				ids = "UNKNOWN"
				problems = append(problems, fmt.Sprintf("%s: bundled %s: license not recognised", m.Path, c.Name))
			case c.Restricted:
				problems = append(problems, fmt.Sprintf("%s: bundled %s: %s is not a permissive license", m.Path, c.Name, ids))
			}
			fmt.Fprintf(tw, "  %s\t%s\n", c.Name, ids)
		}
		_ = tw.Flush()
		if !strings.Contains(notice, m.Path) {
			problems = append(problems, fmt.Sprintf("%s links a prebuilt library into binaries; NOTICE must say so (name the module)", m.Path))
		}
	}
	fmt.Fprintf(w, "\n%d modules; license files are the nearest one to each package used (tests excluded)\n", len(mods))
	return problems
}
