package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		want       []string
		restricted bool
	}{
		{"apache", "Apache License\n Version 2.0, January 2004\nTERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", []string{"Apache-2.0"}, false},
		{"mit", "Permission is hereby granted, free of charge, to any person ...\nThe above copyright notice and this\npermission notice shall be included in all copies", []string{"MIT"}, false},
		{"bsd3 in a C comment", " * Redistribution and use in source and binary forms, with or without\n * modification ... Redistributions in binary form must reproduce the above copyright notice\n * Neither the name of X nor the names of its contributors\n * may be used to endorse or promote products derived from this software", []string{"BSD-3-Clause"}, false},
		{"bsd2", "Redistribution and use in source and binary forms, with or without modification.\nRedistributions in binary form must reproduce the above copyright notice", []string{"BSD-2-Clause"}, false},
		{"two licenses", "Apache License Version 2.0 TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION ... Redistribution and use in source and binary forms; neither the name ... may be used to endorse or promote products derived from this software", []string{"Apache-2.0", "BSD-3-Clause"}, false},
		{"lgpl", "GNU LESSER GENERAL PUBLIC LICENSE ... the GNU General Public License", []string{"LGPL"}, true},
		{"gpl", "GNU GENERAL PUBLIC LICENSE Version 3", []string{"GPL"}, true},
		{"mpl", "Mozilla Public License Version 2.0", []string{"MPL-2.0"}, true},
		{"public domain only", "These libraries are in the public domain.", []string{"public-domain"}, false},
		{"mit with a public-domain remark", "placed in the public domain. Permission is hereby granted, free of charge, ... The above copyright notice and this permission notice shall be included", []string{"MIT"}, false},
		{"unknown", "All rights reserved. Do not copy.", nil, false},
		{"choice of a permissive license", "subject to your choice of exactly one of the following two licenses:\n * The FreeType License, or\n * The GNU General Public License (GPL), version 2 or later.", []string{"FTL OR GPL"}, false},
		{"cc-by mentioning public domain", "Creative Commons Attribution 4.0 International Public License ... dedicated to the public domain under the CC0", []string{"CC-BY-4.0"}, false},
		{"font", "This Font Software is licensed under the SIL Open Font License, Version 1.1.", []string{"OFL-1.1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, restricted := classify(tt.text)
			if !slices.Equal(ids, tt.want) || restricted != tt.restricted {
				t.Errorf("classify = %v, %v; want %v, %v", ids, restricted, tt.want, tt.restricted)
			}
		})
	}
}

func TestSplitLicenses(t *testing.T) {
	text := "LICENSE\n--------------------------------------------------------------\nlib\nRedistribution and use in source and binary forms ... Redistributions in binary form must reproduce the above copyright notice\n\n" +
		"LICENSE.cjson\n--------------------------------------------------------------\nPermission is hereby granted, free of charge ... The above copyright notice and this permission notice shall be included\n"
	got := splitLicenses(text)
	want := []component{{Name: "(main)", IDs: []string{"BSD-2-Clause"}}, {Name: "cjson", IDs: []string{"MIT"}}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].IDs, want[i].IDs) {
			t.Errorf("component %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestThisModule runs the check on the repository itself, as `make licenses`
// does: every dependency recognised, the prebuilt librdkafka's parts listed,
// and a NOTICE without the confluent-kafka-go paragraph fails.
func TestThisModule(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), &stdout, &stderr, root, "NOTICE", []string{"./..."}); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"github.com/confluentinc/confluent-kafka-go/v2  v2.11.1",
		"linked into binaries by github.com/confluentinc/confluent-kafka-go/v2",
		"cjson",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}

	notice, err := os.ReadFile(filepath.Join(root, "NOTICE"))
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(t.TempDir(), "NOTICE")
	first, _, _ := strings.Cut(string(notice), "Third-party software")
	if err := os.WriteFile(bare, []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), &stdout, &stderr, root, bare, []string{"./core/"}); code != 1 ||
		!strings.Contains(stderr.String(), "confluent-kafka-go/v2 links a prebuilt library") {
		t.Fatalf("a NOTICE without librdkafka: exit %d, want 1\n%s", code, stderr.String())
	}
}
