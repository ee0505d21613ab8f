package static_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/static"
)

// The twin editor page's first load, gzipped: the page budget is for HTML,
// style.css, app.js and the editor's scripts together; htmlAllowance is
// what the budget leaves for the HTML of a page with two full sections.
const (
	pageBudget    = 150 << 10
	htmlAllowance = 12 << 10
	bundleBudget  = 120 << 10
)

// editorScripts are the editor's scripts, in the order a page loads them.
var editorScripts = []string{"vendor/codemirror.min.js", "validate.js", "editor.js"}

// csp is the policy hubdesk serves its pages with.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"

func TestEditorAssetsSize(t *testing.T) {
	a, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	total := htmlAllowance
	for _, name := range append([]string{"style.css", "app.js"}, editorScripts...) {
		n := a.GzipSize(name)
		t.Logf("%-24s %6d bytes gzipped", name, n)
		total += n
	}
	if n := a.GzipSize("vendor/codemirror.min.js"); n > bundleBudget {
		t.Errorf("CodeMirror bundle is %d bytes gzipped, over its budget of %d", n, bundleBudget)
	}
	if total > pageBudget {
		t.Errorf("twin editor page is about %d bytes gzipped, over its budget of %d", total, pageBudget)
	}
}

// TestEditorBundleIsSelfContained checks that the bundle can make no
// requests of its own: the CSP would refuse them anyway, silently.
func TestEditorBundleIsSelfContained(t *testing.T) {
	b, err := os.ReadFile("files/vendor/codemirror.min.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"'\s]*`).FindAll(b, -1) {
		if string(u) != "http://www.w3.org/2000/svg" { // an XML namespace, never fetched
			t.Errorf("bundle refers to %s", u)
		}
	}
	for _, s := range []string{"sourceMappingURL", "fetch(", "XMLHttpRequest", "import("} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("bundle contains %q", s)
		}
	}
}

// TestEditorBundleIsBuiltFromSource rebuilds the bundle when the npm
// packages are installed (npm ci in static/vendor-src/codemirror) and
// checks that the committed one is the same.
func TestEditorBundleIsBuiltFromSource(t *testing.T) {
	dir := "vendor-src/codemirror"
	esbuild := filepath.Join(dir, "node_modules/.bin/esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		t.Skip("npm packages not installed; run npm ci in static/vendor-src/codemirror")
	}
	out := filepath.Join(t.TempDir(), "codemirror.min.js")
	cmd := exec.Command("npm", "run", "--silent", "build", "--", "--outfile="+out, "--log-level=warning")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm run build: %v\n%s", err, b)
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("files/vendor/codemirror.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, committed) {
		t.Error("files/vendor/codemirror.min.js is not what its source builds: run npm run build in static/vendor-src/codemirror and commit")
	}
}

// need finds a program the test depends on, or skips the test, except in
// CI where a missing program is a failure.
func need(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// TestValidateJS runs the node tests of files/validate.js, whose cases
// mirror hub/validate_test.go.
func TestValidateJS(t *testing.T) {
	node := need(t, "node")
	out, err := exec.Command(node, "--test", "--test-reporter=dot", "jstest/validate.test.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}

// editorPage is a twin edit page as the templates render it, with the test
// scripts of jstest/ around the editor's when check is set.
func editorPage(a *static.Assets, check bool) string {
	var scripts strings.Builder
	add := func(src string) { fmt.Fprintf(&scripts, "<script defer src=%q></script>\n", src) }
	add("/test/browser_setup.js")
	for _, s := range editorScripts {
		add(a.URL(s))
	}
	if check {
		add("/test/browser_check.js")
	}
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twin editor</title>
<link rel="stylesheet" href="` + a.URL("style.css") + `">
` + scripts.String() + `</head>
<body><main>
<div data-draft-clear="hubdesk:draft:stale hubdesk:draft:gone"></div>
<form method="post" action="/twin">
<div class="cols">
<div>
<label for="ed-tags">Tags</label>
<textarea id="ed-tags" name="tags" class="json" data-json-editor data-section="tags"
  data-draft-key="hubdesk:draft:twin:dev1:tags" data-base-etag="AAAAAAAAAAE=">{"site":"server"}</textarea>
<p class="editor-status" id="ed-tags-status" aria-live="polite"></p>
</div>
<div>
<label for="ed-desired">Desired properties</label>
<textarea id="ed-desired" name="desired" class="json" data-json-editor data-section="desired"
  data-draft-key="hubdesk:draft:twin:dev1:desired" data-base-etag="AAAAAAAAAAI=">{"rate":1}</textarea>
<p class="editor-status" id="ed-desired-status" aria-live="polite"></p>
</div>
</div>
<label for="ed-reported">Reported properties</label>
<textarea id="ed-reported" class="json" data-json-editor data-section="reported" data-readonly
  data-draft-key="hubdesk:draft:twin:dev1:reported">{
  "fw": "1.2.3",
  "battery": 87,
  "online": true,
  "$version": 4
}</textarea>
<p class="editor-status" id="ed-reported-status" aria-live="polite"></p>
<textarea id="carrier" name="carrier" data-draft-key="hubdesk:draft:carrier">kept</textarea>
<button class="primary">Review changes</button>
</form>
</main></body></html>`
}

// editorServer serves the editor page under hubdesk's CSP.
func editorServer(t *testing.T) *httptest.Server {
	a, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(static.Prefix, a)
	mux.Handle("/test/", http.StripPrefix("/test/", http.FileServer(http.Dir("jstest"))))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, editorPage(a, r.URL.Query().Has("check")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// chromium runs headless Chromium with a fresh profile and returns its
// standard output.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		need(t, "chromium")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestEditorInChromium loads the editor under hubdesk's CSP and runs
// jstest/browser_check.js: editors replace the textareas, styles apply with
// no CSP violation, drafts are restored, offered and cleared, edits reach
// the form and the hub's rules show inline and in the status line.
// Set EDITOR_SCREENSHOT=/tmp/cm.png to also save a screenshot of the page.
func TestEditorInChromium(t *testing.T) {
	srv := editorServer(t)
	dom := chromium(t, "--virtual-time-budget=10000", "--dump-dom", srv.URL+"/?check")
	m := regexp.MustCompile(`<pre id="result">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no result in the page; the editor scripts did not finish:\n%s", dom)
	}
	var res struct{ Failures []string }
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &res); err != nil {
		t.Fatalf("result %s: %v", m[1], err)
	}
	for _, f := range res.Failures {
		t.Error(f)
	}
	if png := os.Getenv("EDITOR_SCREENSHOT"); png != "" {
		extra := []string{}
		if strings.Contains(png, "dark") {
			extra = append(extra, "--force-dark-mode", "--blink-settings=preferredColorScheme=0")
		}
		chromium(t, append(extra, "--virtual-time-budget=3000", "--window-size=1200,800", "--screenshot="+png, srv.URL)...)
	}
}
