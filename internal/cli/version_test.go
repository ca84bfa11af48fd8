package cli

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	goLine := "go:         go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{
			name: "release from the module proxy",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Path: "github.com/kafka-broker/kafka-broker-go", Version: "v0.1.0"},
				Deps:      []*debug.Module{{Path: "github.com/google/uuid", Version: "v1.6.0"}, {Path: kafkaModule, Version: "v2.11.1"}},
			},
			want: "kafka-broker v0.1.0\nrevision:   unknown (built without VCS information)\n" + goLine +
				"librdkafka: 2.11.1 (confluent-kafka-go v2.11.1)\n",
		},
		{
			name: "clone with uncommitted changes",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Version: "v0.1.1-0.20261201115700-ab93967c0f12+dirty"},
				Deps:      []*debug.Module{{Path: kafkaModule, Version: "v2.11.1", Replace: &debug.Module{Path: "../confluent-kafka-go", Version: ""}}},
				Settings: []debug.BuildSetting{
					{Key: "-buildmode", Value: "exe"},
					{Key: "vcs", Value: "git"},
					{Key: "vcs.revision", Value: "ab93967c0f12ab93967c0f12ab93967c0f12ab93"},
					{Key: "vcs.time", Value: "2026-12-01T11:57:00Z"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			want: "kafka-broker v0.1.1-0.20261201115700-ab93967c0f12+dirty\n" +
				"revision:   ab93967c0f12ab93967c0f12ab93967c0f12ab93 (2026-12-01T11:57:00Z), modified\n" + goLine +
				"librdkafka: 2.11.1 (confluent-kafka-go v2.11.1 => ../confluent-kafka-go)\n",
		},
		{
			name: "clean clone without a time",
			bi: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Version: "(devel)"},
				Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "false"}},
			},
			want: "kafka-broker (devel)\nrevision:   0123abc\n" + goLine + "librdkafka: 2.11.1\n",
		},
		{
			name: "no build information",
			bi:   nil,
			want: "kafka-broker (devel)\nrevision:   unknown (built without VCS information)\n" +
				"go:         " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\nlibrdkafka: 2.11.1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeVersion(&b, tt.bi, "2.11.1")
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}
