// Package docstest checks the project's documents against its code: every
// test a document names as the proof of a promise exists.
package docstest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The documents whose promises name their tests.
var documents = []string{"README.md", "SECURITY.md", "BENCHMARKS.md", "CHANGELOG.md", "CONTRIBUTING.md"}

var (
	namedTest   = regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*|Fuzz[A-Z][A-Za-z0-9_]*)(/[^`]*)?`")
	definedTest = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Z][A-Za-z0-9_]*)\(`)
)

// TestDocumentsNameExistingTests fails for a test a document names in
// backticks that no _test.go file of the module defines: a promise whose
// proof was renamed or removed.
func TestDocumentsNameExistingTests(t *testing.T) {
	root := filepath.Join("..", "..")
	defined := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range definedTest.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(defined) < 100 {
		t.Fatalf("found only %d tests under %s: wrong root?", len(defined), root)
	}
	named := 0
	for _, doc := range documents {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, m := range namedTest.FindAllSubmatch(b, -1) {
			named++
			if name := string(m[1]); !defined[name] && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s names tests that do not exist: %s", doc, strings.Join(missing, ", "))
		}
	}
	if named == 0 {
		t.Fatal("the documents name no test at all: is the pattern right?")
	}
}
