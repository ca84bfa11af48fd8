package main

import (
	"regexp"
	"slices"
	"strings"
)

// A license kind as an SPDX identifier. The detection is by the phrases each
// license text is known by, which is enough to tell the few licenses Go
// modules use apart; it is not a legal review: anything unrecognised fails
// the check and needs a human.
type kind struct {
	id string
	// all phrases must occur (in the normalised text)
	all []string
	// restricted: copyleft terms a user of this library must not inherit
	// unnoticed (reported as an error).
	restricted bool
}

// kinds in the order they are reported; every one found is reported, so a
// file holding two licenses (OpenTelemetry's Apache-2.0 with Go's BSD) says so.
var kinds = []kind{
	{id: "Apache-2.0", all: []string{"apache license", "version 2.0", "terms and conditions for use, reproduction, and distribution"}},
	{id: "MPL-2.0", all: []string{"mozilla public license", "version 2.0"}, restricted: true},
	{id: "AGPL-3.0", all: []string{"gnu affero general public license"}, restricted: true},
	{id: "LGPL", all: []string{"gnu lesser general public license"}, restricted: true},
	{id: "GPL", all: []string{"gnu general public license"}, restricted: true},
	{id: "BSD-3-Clause", all: []string{"redistribution and use in source and binary forms", "may be used to endorse or promote products derived from this software"}},
	{id: "BSD-2-Clause", all: []string{"redistribution and use in source and binary forms", "redistributions in binary form must reproduce the above copyright notice"}},
	{id: "MIT", all: []string{"permission is hereby granted, free of charge", "the above copyright notice and this permission notice shall be included"}},
	{id: "ISC", all: []string{"permission to use, copy, modify, and", "distribute this software for any purpose with or without fee is hereby granted"}},
	{id: "Zlib", all: []string{"this software is provided 'as-is'", "altered source versions must be plainly marked as such"}},
	{id: "FTL", all: []string{"freetype license"}},
	{id: "OFL-1.1", all: []string{"sil open font license", "version 1.1"}},
	{id: "CC-BY-4.0", all: []string{"creative commons attribution 4.0 international"}},
	{id: "public-domain", all: []string{"public domain"}},
}

var (
	commentMarks = regexp.MustCompile(`(?m)^\s*(//|#+|/?\*+/?)`)
	spaces       = regexp.MustCompile(`\s+`)
)

// normalise lowers the text and folds comment markers and white space, so
// phrases match across line breaks and C or shell comments.
func normalise(text string) string {
	text = commentMarks.ReplaceAllString(text, " ")
	text = strings.ToLower(text)
	text = strings.NewReplacer("``", "'", "''", "'", "\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`).Replace(text)
	return spaces.ReplaceAllString(text, " ")
}

// choice marks a text that offers its licenses as alternatives
// (FreeType: "your choice of exactly one of the following two licenses").
var choice = []string{"your choice of exactly one of the following", "at your choice, one of the following", "dual-licensed under your choice"}

// classify returns the SPDX identifiers of the licenses in text, and whether
// the terms are restricted. BSD-3-Clause implies the BSD-2-Clause phrases,
// so a three-clause text reports only BSD-3-Clause; a public-domain remark
// beside a real license is not reported. A text that offers a choice of
// licenses returns them joined by OR as one identifier, restricted only when
// every alternative is.
func classify(text string) (ids []string, restricted bool) {
	n := normalise(text)
	defer func() {
		if len(ids) < 2 || !slices.ContainsFunc(choice, func(p string) bool { return strings.Contains(n, p) }) {
			return
		}
		isRestricted := func(id string) bool {
			i := slices.IndexFunc(kinds, func(k kind) bool { return k.id == id })
			return i >= 0 && kinds[i].restricted
		}
		// The permissive alternatives first: they are the ones taken.
		slices.SortStableFunc(ids, func(a, b string) int {
			switch ra, rb := isRestricted(a), isRestricted(b); {
			case ra == rb:
				return 0
			case rb:
				return -1
			}
			return 1
		})
		restricted = isRestricted(ids[0])
		ids = []string{strings.Join(ids, " OR ")}
	}()
	has := map[string]bool{}
	for _, k := range kinds {
		ok := true
		for _, p := range k.all {
			if !strings.Contains(n, p) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		switch {
		case k.id == "GPL" && (has["LGPL"] || has["AGPL-3.0"]):
			continue
		case k.id == "BSD-2-Clause" && has["BSD-3-Clause"]:
			continue
		case k.id == "public-domain" && len(ids) > 0:
			continue
		}
		has[k.id] = true
		ids = append(ids, k.id)
		restricted = restricted || k.restricted
	}
	return ids, restricted
}
