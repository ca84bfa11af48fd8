package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// checkVersion runs `kafka-broker --version` and `kafka-broker version` on a
// binary built by build: the module version, the Go version and the
// librdkafka linked in, and, when built in a git clone, the revision of HEAD
// with the modified flag as `git status` sees it.
func checkVersion(t *testing.T, bin string) {
	r := run(t, bin, nil, "--version")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("--version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r2 := run(t, bin, nil, "version"); r2.code != 0 || r2.stdout != r.stdout {
		t.Errorf("version and --version differ: exit %d\n%s\n%s", r2.code, r2.stdout, r.stdout)
	}
	if r := run(t, bin, nil, "version", "extra"); r.code != 2 {
		t.Errorf("version extra: exit %d, want 2", r.code)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`^kafka-broker (\(devel\)|v\d+\.\d+\.\d+\S*)$`).MatchString(lines[0]) {
		t.Errorf("version line %q", lines[0])
	}
	if want := "go:         " + runtime.Version() + " "; !strings.HasPrefix(lines[2], want) {
		t.Errorf("go line %q, want prefix %q", lines[2], want)
	}
	_, lib := kafka.LibraryVersion()
	if want := "librdkafka: " + lib + " (confluent-kafka-go v2."; !strings.HasPrefix(lines[3], want) {
		t.Errorf("librdkafka line %q, want prefix %q", lines[3], want)
	}

	// Go stamps VCS information when the module is in a git checkout whose
	// .git is a directory; a linked worktree (.git is a file) gets none
	// (golang.org/issue/58218).
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	fi, err := os.Stat(filepath.Join(root, ".git"))
	head, headErr := git("rev-parse", "HEAD")
	if err != nil || !fi.IsDir() || headErr != nil {
		t.Logf("not a plain git clone (%v, %v): revision line %q not checked", err, headErr, lines[1])
		return
	}
	status, err := git("status", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^revision:   ` + head + ` \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$`)
	if status != "" {
		want = regexp.MustCompile(`^revision:   ` + head + ` \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), modified$`)
	}
	if !want.MatchString(lines[1]) {
		t.Errorf("revision line %q, want %v", lines[1], want)
	}
	if lines[0] == "kafka-broker (devel)" {
		t.Errorf("built in a clone, but the module version is %q (want the tag or a pseudo-version)", lines[0])
	}
}
