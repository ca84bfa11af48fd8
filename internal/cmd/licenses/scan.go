package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// listedPackage is the part of `go list -json` this tool reads.
type listedPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	Module     *struct {
		Path    string
		Version string
		Dir     string
		Main    bool
		Replace *struct {
			Path    string
			Version string
			Dir     string
		}
	}
}

// module is one dependency module with the license files that cover the
// packages the build uses from it.
type module struct {
	Path     string
	Version  string
	Dir      string
	Packages int
	Licenses []licenseFile
	Notices  []string // NOTICE files anywhere in the module (Apache-2.0 section 4(d))
	Bundled  []component
}

type licenseFile struct {
	Path       string // relative to the module's directory
	IDs        []string
	Restricted bool
}

// component is third-party code bundled in a module as a binary, described
// by a LICENSES.txt beside it (confluent-kafka-go's prebuilt librdkafka).
type component struct {
	Name       string
	IDs        []string
	Restricted bool
}

// listDeps runs `go list -deps -json` on the patterns (no test files: a test
// dependency never reaches a user's binary) and returns the packages
// outside the standard library and the main module.
func listDeps(ctx context.Context, goBin, dir string, patterns []string) ([]listedPackage, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Dir,Standard,Module"}, patterns...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Standard || p.Module == nil || p.Module.Main {
			continue
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

var (
	licenseName = regexp.MustCompile(`(?i)^(licen[cs]e|copying)([.-].*)?$`)
	noticeName  = regexp.MustCompile(`(?i)^notice([.-].*)?$`)
)

// scan finds, for every package, the nearest license file in its directory
// or a parent up to its module's root (as go-licenses does), and collects
// the modules' NOTICE files and bundled-binary licenses.
func scan(pkgs []listedPackage) ([]*module, error) {
	byPath := map[string]*module{}
	seen := map[string]bool{} // license file paths already classified
	for _, p := range pkgs {
		mp, version, root := p.Module.Path, p.Module.Version, p.Module.Dir
		if r := p.Module.Replace; r != nil {
			version, root = r.Version, r.Dir
			if r.Version == "" {
				version = "=> " + r.Path
			}
		}
		if root == "" {
			return nil, fmt.Errorf("module %s is not downloaded (run go mod download)", mp)
		}
		m := byPath[mp]
		if m == nil {
			m = &module{Path: mp, Version: version, Dir: root}
			notices, err := findNotices(root)
			if err != nil {
				return nil, err
			}
			m.Notices = notices
			byPath[mp] = m
		}
		m.Packages++
		lfs, err := nearestLicenses(p.Dir, root)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.ImportPath, err)
		}
		for _, lf := range lfs {
			if seen[lf] {
				continue
			}
			seen[lf] = true
			text, err := os.ReadFile(lf)
			if err != nil {
				return nil, err
			}
			rel, _ := filepath.Rel(root, lf)
			ids, restricted := classify(string(text))
			m.Licenses = append(m.Licenses, licenseFile{Path: filepath.ToSlash(rel), IDs: ids, Restricted: restricted})
		}
		// A prebuilt library linked into the binary lists its parts'
		// licenses in a LICENSES.txt beside it.
		if text, err := os.ReadFile(filepath.Join(p.Dir, "LICENSES.txt")); err == nil {
			m.Bundled = append(m.Bundled, splitLicenses(string(text))...)
		}
	}
	mods := make([]*module, 0, len(byPath))
	for _, m := range byPath {
		slices.SortFunc(m.Licenses, func(a, b licenseFile) int { return strings.Compare(a.Path, b.Path) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.Path, b.Path) })
	return mods, nil
}

// nearestLicenses walks from dir up to root and returns the license files of
// the first directory that has any (Go code under LICENSE and fonts under
// LICENSE-SIL, say).
func nearestLicenses(dir, root string) ([]string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range entries {
			if !e.IsDir() && licenseName.MatchString(e.Name()) {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if d == root || !strings.HasPrefix(d, root) || d == filepath.Dir(d) {
			return nil, fmt.Errorf("no license file between %s and the module root %s", dir, root)
		}
	}
}

func findNotices(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && noticeName.MatchString(d.Name()) {
			rel, _ := filepath.Rel(root, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// licensesHeading starts a section of a LICENSES.txt: a line "LICENSE" or
// "LICENSE.<component>" followed by a line of dashes.
var licensesHeading = regexp.MustCompile(`(?m)^LICENSE(\.[A-Za-z0-9_.+-]+)?[ \t]*\n-{10,}[ \t]*$`)

func splitLicenses(text string) []component {
	locs := licensesHeading.FindAllStringSubmatchIndex(text, -1)
	var out []component
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := "(main)"
		if loc[2] >= 0 {
			name = text[loc[2]+1 : loc[3]]
		}
		ids, restricted := classify(text[loc[1]:end])
		out = append(out, component{Name: name, IDs: ids, Restricted: restricted})
	}
	return out
}
