package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

const kafkaModule = "github.com/confluentinc/confluent-kafka-go/v2"

func runVersion(_ context.Context, env Env, args []string) int {
	fs := newFlagSet("version", "", `
Prints the version of kafka-broker: the module version, the VCS revision it
was built from, the Go version, and the librdkafka version linked into it.
The first line is "kafka-broker <version>"; the version is "(devel)" for a
build without version information (such as one with -buildvcs=false).`, "")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return fs.fail(env, err)
	}
	bi, _ := debug.ReadBuildInfo()
	_, librdkafka := kafka.LibraryVersion()
	writeVersion(env.Stdout, bi, librdkafka)
	return ExitOK
}

// writeVersion prints what a bug report needs: the module version (set by
// `go install module@version`, or from the VCS tag or a pseudo-version when
// built in a clone), the revision with its time and whether the tree had
// uncommitted changes, the Go toolchain, and the librdkafka linked in. bi may
// be nil (a binary without build information).
func writeVersion(w io.Writer, bi *debug.BuildInfo, librdkafka string) {
	version, goVersion := "(devel)", runtime.Version()
	var revision, revTime, modified, kafkaGo string
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				revTime = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == kafkaModule {
				kafkaGo = d.Version
				if r := d.Replace; r != nil {
					kafkaGo += " => " + r.Path
					if r.Version != "" {
						kafkaGo += " " + r.Version
					}
				}
			}
		}
	}
	fmt.Fprintln(w, "kafka-broker", version)
	if revision == "" {
		fmt.Fprintln(w, "revision:   unknown (built without VCS information)")
	} else {
		line := revision
		if revTime != "" {
			line += " (" + revTime + ")"
		}
		if modified == "true" {
			line += ", modified"
		}
		fmt.Fprintln(w, "revision:  ", line)
	}
	fmt.Fprintf(w, "go:         %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	if kafkaGo != "" {
		librdkafka += " (confluent-kafka-go " + kafkaGo + ")"
	}
	fmt.Fprintln(w, "librdkafka:", librdkafka)
}
