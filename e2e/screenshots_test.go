package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// colorScheme makes pages render as if the system prefers scheme ("light"
// or "dark").
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return chromedp.Void{}, err
	}
}

// TestScreenshots walks the pages of the README on a demo fleet and takes
// a 1280x900 screenshot of each. They go to docs/screenshots/ only when
// HUBDESK_SCREENSHOTS=1, so that running the tests never rewrites the
// committed files; otherwise the walk still checks the pages for
// problems, in dark mode too.
func TestScreenshots(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("HUBDESK_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := newSite(t, 400)
	browser := newBrowser(t)
	ann := s.person(t, browser)
	ann.do(colorScheme("light"))

	ann.open("/login")
	ann.screenshot(dir, "sign-in")
	ann.signIn("alice")
	ann.screenshot(dir, "overview")
	ann.open("/devices")
	ann.screenshot(dir, "devices")
	ann.open("/devices/gateway-00003")
	ann.screenshot(dir, "device")

	twin := "/devices/gateway-00003/modules/telemetry/twin"
	ann.openEditor(twin)
	ann.screenshot(dir, "twin-editor")
	ann.do(colorScheme("dark"))
	ann.openEditor(twin)
	ann.screenshot(dir, "twin-editor-dark")
	ann.do(colorScheme("light"))

	// Ann raises the send interval and turns on compression, while a
	// colleague tags the module: their changes do not overlap.
	ann.editDesired(twin, map[string]any{"sendInterval": 120, "compression": "gzip"})
	ann.do(chromedp.SendKeys(chromedp.ID("reason"), "INC-4711 reduce traffic"))
	ann.screenshot(dir, "review")
	s.patchTwin(t, "gateway-00003", "telemetry", `{"tags":{"owner":"data-team-eu"}}`)
	if st := ann.click(saveButton); st != 409 {
		t.Fatalf("save over a colleague's change: HTTP %d, want 409", st)
	}
	ann.screenshot(dir, "conflict-rebase")

	// On another gateway the colleague sets the same interval differently.
	twin = "/devices/gateway-00005/modules/telemetry/twin"
	ann.editDesired(twin, map[string]any{"sendInterval": 120, "compression": "gzip"})
	s.patchTwin(t, "gateway-00005", "telemetry", `{"tags":{"owner":"data-team-eu"},"properties":{"desired":{"sendInterval":30}}}`)
	if st := ann.click(saveButton); st != 409 {
		t.Fatalf("save over a colleague's change: HTTP %d, want 409", st)
	}
	ann.screenshot(dir, "conflict")

	// The trail of all that, one entry of it, and the accounts.
	ann.open("/audit")
	ann.screenshot(dir, "audit")
	ann.open("/audit/1")
	ann.screenshot(dir, "audit-entry")
	ann.open("/admin/users")
	ann.screenshot(dir, "accounts")
}

// editDesired opens a twin editor, sets keys of the desired properties
// by typing the result into the editor, and reviews the change.
func (p *person) editDesired(twin string, set map[string]any) {
	p.t.Helper()
	p.openEditor(twin)
	var desired map[string]any
	if err := json.Unmarshal([]byte(p.editorText("ed-desired")), &desired); err != nil {
		p.t.Fatal(err)
	}
	for k, v := range set {
		desired[k] = v
	}
	text, _ := json.Marshal(desired)
	p.typeInEditor("ed-desired", string(text))
	p.waitStatus("ed-desired", "Valid JSON")
	if st := p.click(reviewButton); st != 200 {
		p.t.Fatalf("review: HTTP %d", st)
	}
}
