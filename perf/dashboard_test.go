package perf

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"testing"
)

func TestRunDashboardScenarios(t *testing.T) {
	scenarios := DashboardScenarios()
	var out bytes.Buffer
	if err := Run(context.Background(), &out, tinyOptions(t), scenarios...); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	rows := parseTable(t, out.String())
	if len(rows) != len(scenarios) {
		t.Fatalf("%d rows, want %d", len(rows), len(scenarios))
	}
	measured := regexp.MustCompile(`^([0-9][0-9,.]* (pages/s|ms|x|KB)|-)$`)
	for i, r := range rows {
		// Only the page weight row may be skipped: it needs Chromium.
		if r[0] != scenarios[i].Name || !measured.MatchString(r[2]) || !slices.Contains([]string{"PASS", "FAIL", "skipped"}, r[5]) ||
			(r[5] == "skipped") != (r[2] == "-") || r[5] == "skipped" && r[0] != "twin editor page weight" {
			t.Errorf("row %d: %q", i, r)
		}
	}
}
