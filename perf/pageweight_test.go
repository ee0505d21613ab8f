package perf

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPageWeight loads the twin editor page in headless Chromium and checks
// the row: a figure in KB, a verdict against the budget, and a note that
// names every resource and how it was encoded. Without Chromium it is
// skipped, except in CI, where a missing browser is a failure.
func TestPageWeight(t *testing.T) {
	chromium := ChromiumPath(os.Getenv)
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s (CI=true): install Debian's chromium package", chromium)
		}
		t.Skipf("no Chromium at %s: install Debian's chromium package or set HUBDESK_CHROMIUM", chromium)
	}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, tinyOptions(t), PageWeight(250)); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	rows := parseTable(t, out.String())
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	if r[0] != "twin editor page weight" || r[1] != "<= 250 KB" || !regexp.MustCompile(`^[0-9.]+ KB$`).MatchString(r[2]) || r[5] != "PASS" {
		t.Errorf("row %q", r)
	}
	for _, want := range []string{"cold load in headless Chromium", "page HTML ", "codemirror.", " gzip", "editor.", "validate.", "style.", "headers "} {
		if !strings.Contains(r[6], want) {
			t.Errorf("note lacks %q: %s", want, r[6])
		}
	}
}

// TestPageWeightWithoutChromium checks that a machine without a browser
// gets a skipped row, not a failed run.
func TestPageWeightWithoutChromium(t *testing.T) {
	t.Setenv("HUBDESK_CHROMIUM", "/nonexistent/chromium")
	var out bytes.Buffer
	if err := Run(context.Background(), &out, tinyOptions(t), PageWeight(250)); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	rows := parseTable(t, out.String())
	if len(rows) != 1 || rows[0][2] != "-" || rows[0][5] != "skipped" || !strings.HasPrefix(rows[0][6], "skipped: no Chromium at /nonexistent/chromium") {
		t.Errorf("rows %q", rows)
	}
}
