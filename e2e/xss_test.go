package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hubdesk/hubdesk/hub"
)

// Every payload calls __xss(n) if it ever runs; the tab defines __xss to
// record n and retitle the page, so a payload that runs is caught even if
// nothing else about the page looks wrong. Under the CSP an injected
// inline script or handler would be blocked and reported as a violation
// instead, which fails the test too: both nets are in place.
const defineXSS = `window.__xss = (n) => { (window.__xssRan ??= []).push(n); document.title = "XSS " + n; };`

// Device and module ids may hold only letters, digits and
// - : . + % _ # * ? ! ( ) , = @ ; $ ' (see hub.ValidID): enough for quotes
// that end attributes, javascript: URLs, percent-escapes that a careless
// decode turns into markup, and ? and # that a careless link cuts short.
var (
	xssDeviceQuote   = `';__xss(1);'`
	xssDeviceJS      = `javascript:__xss(2)`
	xssDevicePercent = `%3Cscript%3E__xss(3)%3C%2Fscript%3E`
	xssDeviceURL     = `x'?y#z=$@(4),*!+:`
	xssDeviceLong    = strings.Repeat("Wide", 32) // 128 characters, the most an id may have
	xssModuleJS      = `javascript:__xss(5)`
	xssModuleQuote   = `'onmouseover='__xss(6)'`
)

// Payloads in hub data that a device or a script may write: names must
// not hold '.', '$', '#', spaces or control characters; values may hold
// anything JSON does.
const (
	xssManagedBy    = `"><img src=x onerror=__xss(7)>`
	xssStatusReason = `"><script>__xss(8)</script>`
	xssTagName      = `<script>__xss(9)</script>`
	xssTagValue     = `</textarea><script>__xss(10)</script>`
	xssAttrName     = `"><img/src=x/onerror=__xss(11)>`
	xssJSURL        = `javascript:__xss(12)`
	xssTemplates    = "{{__xss(13)}} ${__xss(14)} `${__xss(15)}`"
	xssSeparators   = "line\u2028separator\u2029paragraph"
	xssRTL          = "\u202Egnp.exe\u202C"
	xssDesiredName  = `</script><script>__xss(16)</script>`
	xssNestedName   = `<svg/onload=__xss(17)>`
	xssDesiredValue = `<iframe/src=javascript:__xss(18)>`
	xssReportedName = `<script>__xss(19)</script>`
	xssReportedVal  = `</pre><img src=x onerror=__xss(20)>`
	xssAuditReason  = `</textarea><img src=x onerror=__xss(21)> {{__xss(22)}} ` + "\u202Eesrever"
	xssBadName      = `<img src=x onerror=__xss(23)>`
	xssEditName     = `<b/onclick=__xss(24)>`
	xssEditValue    = `</td><script>__xss(25)</script>`
	xssQuery        = `"><script>__xss(26)</script>`
)

// Long unbroken strings, the kind that push a column wider than the page.
var (
	xssLongTag      = strings.Repeat("A", 3000)
	xssLongDesired  = strings.Repeat("B", 2000)
	xssLongReported = strings.Repeat("C", 3000)
)

// reportedInjector stands for devices that report hostile properties: the
// service API cannot write reported properties, so it adds them to every
// twin the hub returns on the way to the dashboard.
type reportedInjector struct {
	next     http.RoundTripper
	reported map[string]any
}

func (ri reportedInjector) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := ri.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.HasPrefix(req.URL.Path, "/twins/") || res.StatusCode != http.StatusOK {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	// Only the reported section is decoded: the rest passes through byte
	// for byte, as the hub wrote it.
	var tw, props map[string]json.RawMessage
	var rep map[string]any
	if err := json.Unmarshal(body, &tw); err != nil {
		return nil, fmt.Errorf("reported injector: %w", err)
	}
	if err := json.Unmarshal(tw["properties"], &props); err != nil {
		return nil, fmt.Errorf("reported injector: properties: %w", err)
	}
	if err := json.Unmarshal(props["reported"], &rep); err != nil || rep == nil {
		return nil, fmt.Errorf("reported injector: reported properties %s: %v", props["reported"], err)
	}
	meta, _ := rep["$metadata"].(map[string]any)
	for k, v := range ri.reported {
		rep[k] = v
		if meta != nil {
			meta[k] = map[string]any{"$lastUpdated": "2026-01-02T03:04:05.0000000Z"}
		}
	}
	if props["reported"], err = marshalRaw(rep); err != nil {
		return nil, err
	}
	if tw["properties"], err = marshalRaw(props); err != nil {
		return nil, err
	}
	b, err := marshalRaw(tw)
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.Header.Del("Content-Length")
	return res, nil
}

// marshalRaw encodes v as a device would report it: < and > as they are,
// not \u003c, and raw messages as they came.
func marshalRaw(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// xssFleet writes the payloads into the hub: devices, modules, identities
// and twins.
func (s *site) xssFleet(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{xssDeviceQuote, xssDeviceJS, xssDevicePercent, xssDeviceURL, xssDeviceLong} {
		if _, err := s.hub.CreateDevice(ctx, &hub.Device{DeviceID: id}); err != nil {
			t.Fatalf("create device %q: %v", id, err)
		}
	}
	d, err := s.hub.GetDevice(ctx, xssDeviceQuote)
	if err != nil {
		t.Fatal(err)
	}
	d.Status, d.StatusReason = hub.StatusDisabled, xssStatusReason
	if _, err := s.hub.UpdateDevice(ctx, d, hub.IfMatch(d.ETag)); err != nil {
		t.Fatalf("status reason: %v", err)
	}
	for _, m := range []*hub.Module{
		{DeviceID: xssDeviceQuote, ModuleID: xssModuleJS, ManagedBy: xssManagedBy},
		{DeviceID: xssDeviceQuote, ModuleID: xssModuleQuote},
		{DeviceID: xssDeviceLong, ModuleID: xssDeviceLong},
	} {
		if _, err := s.hub.CreateModule(ctx, m); err != nil {
			t.Fatalf("create module %q: %v", m.ModuleID, err)
		}
	}
	tags := map[string]any{
		xssTagName:  xssTagValue,
		xssAttrName: xssJSURL,
		"templates": xssTemplates,
		"lines":     xssSeparators,
		"rtl":       xssRTL,
		"long":      xssLongTag,
	}
	desired := map[string]any{
		xssDesiredName:        map[string]any{xssNestedName: xssDesiredValue},
		"long":                xssLongDesired,
		"line\u2028separator": xssSeparators,
	}
	patch, err := json.Marshal(map[string]any{"tags": tags, "properties": map[string]any{"desired": desired}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.hub.UpdateTwin(ctx, xssDeviceQuote, patch, hub.Unconditional()); err != nil {
		t.Fatalf("device twin: %v", err)
	}
	for _, id := range []string{xssDeviceLong, xssDeviceURL} {
		if _, err := s.hub.UpdateTwin(ctx, id, patch, hub.Unconditional()); err != nil {
			t.Fatalf("device twin: %v", err)
		}
	}
	if _, err := s.hub.UpdateModuleTwin(ctx, xssDeviceQuote, xssModuleJS, patch, hub.Unconditional()); err != nil {
		t.Fatalf("module twin: %v", err)
	}
	s.patchTwin(t, xssDeviceQuote, xssModuleQuote, `{"properties":{"desired":{"fw":"1.0"}}}`)
}

// pageCheck is what xssPage asserts about a page beyond the common checks:
// texts it must show as text.
type pageCheck struct {
	name   string
	path   string
	status int64
	texts  []string
	// fields maps the id of a form field to the value it must hold.
	fields map[string]string
}

// injected lists markup on the page that hub data could have planted:
// inline scripts, elements that load or run something, event handler
// attributes and javascript: links. hubdesk's own pages have none.
const injected = `(() => {
  const out = [];
  for (const e of document.querySelectorAll("*")) {
    const tag = e.tagName.toLowerCase();
    if (tag === "script" && !e.src) out.push("inline script: " + e.textContent.slice(0, 80));
    if (["img", "svg", "iframe", "object", "embed"].includes(tag)) out.push("element <" + tag + ">");
    for (const a of e.attributes) {
      if (a.name.startsWith("on")) out.push("attribute " + a.name + " on <" + tag + ">");
      if (/^\s*javascript:/i.test(a.value) && ["href", "src", "action", "formaction"].includes(a.name)) out.push(a.name + "=" + a.value + " on <" + tag + ">");
    }
  }
  return out;
})()`

// overflow measures the page and the main column against the window,
// and names the innermost elements that stick out of the main column.
const overflow = `(() => {
  const main = document.querySelector("main");
  const edge = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
  const out = [];
  for (const e of main.querySelectorAll("*")) {
    const r = e.getBoundingClientRect();
    if (r.right > edge + 2 && ![...e.children].some((c) => c.getBoundingClientRect().right > edge + 2)) {
      out.push("<" + e.tagName.toLowerCase() + (e.className ? "." + String(e.className).replace(/ /g, ".") : "") + "> to " +
        Math.round(r.right) + " px: " + JSON.stringify(e.textContent.slice(0, 40)));
    }
  }
  return {Doc: document.documentElement.scrollWidth, Win: window.innerWidth,
    Main: main.scrollWidth, MainClient: main.clientWidth, Widest: out.slice(0, 4)};
})()`

// xssPage loads a page and checks that nothing in it ran, that no markup
// was planted, that the main column is no wider than the window, and
// that the payloads show as text. It saves a screenshot in dir.
func (p *person) xssPage(dir string, c pageCheck) {
	p.t.Helper()
	if c.path != "" {
		want := c.status
		if want == 0 {
			want = 200
		}
		if st := p.open(c.path); st != want {
			p.t.Errorf("%s (%s): HTTP %d, want %d", c.name, c.path, st, want)
		}
	}
	p.xssChecks(dir, c)
}

// xssChecks runs xssPage's checks on the page the tab shows.
func (p *person) xssChecks(dir string, c pageCheck) {
	p.t.Helper()
	if ran := eval[[]int](p, `window.__xssRan ?? []`); len(ran) > 0 {
		p.t.Errorf("%s: payload script ran: __xss(%v)", c.name, ran)
	}
	if title := eval[string](p, `document.title`); strings.HasPrefix(title, "XSS") || !strings.HasSuffix(title, "· hubdesk") {
		p.t.Errorf("%s: title %q", c.name, title)
	}
	for _, found := range eval[[]string](p, injected) {
		p.t.Errorf("%s: planted markup: %s", c.name, found)
	}
	type widths struct {
		Doc, Win, Main, MainClient float64
		Widest                     []string
	}
	w := eval[widths](p, overflow)
	if w.Doc > w.Win+2 || w.Main > w.MainClient+2 {
		p.t.Errorf("%s: overflows sideways: page %v px wide in a %v px window; main column %v px of content in %v px; sticking out: %s",
			c.name, w.Doc, w.Win, w.Main, w.MainClient, strings.Join(w.Widest, "; "))
	}
	text := eval[string](p, `document.body.innerText`)
	var missing []string
	for _, want := range c.texts {
		if !strings.Contains(text, want) {
			missing = append(missing, strconv.Quote(shorten(want)))
		}
	}
	if missing != nil {
		p.t.Errorf("%s: the page does not show as text: %s", c.name, strings.Join(missing, ", "))
	}
	for id, want := range c.fields {
		if got := eval[string](p, fmt.Sprintf(`document.getElementById(%q)?.value ?? "(no field)"`, id)); got != want {
			p.t.Errorf("%s: field #%s holds %q, want %q", c.name, id, shorten(got), shorten(want))
		}
	}
	for _, pr := range p.takeProblems() {
		p.t.Errorf("%s: %s", c.name, pr)
	}
	p.screenshot(dir, regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(c.name), "-"))
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func deviceURL(id string) string { return "/devices/" + url.PathEscape(id) }

func moduleURL(id, mid string) string { return deviceURL(id) + "/modules/" + url.PathEscape(mid) }

// TestXSS loads every page that shows hub data, filled with payloads, and
// checks that none of it runs, plants markup or breaks the layout.
func TestXSS(t *testing.T) {
	// HUBDESK_XSS_SCREENSHOTS names a directory to keep the screenshots in,
	// to look at the pages as they render.
	dir := os.Getenv("HUBDESK_XSS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	reported := map[string]any{
		xssReportedName: xssReportedVal,
		"</textarea>":   xssSeparators,
		"long":          xssLongReported,
	}
	s := newSite(t, 0, hub.WithHTTPClient(&http.Client{Transport: reportedInjector{next: http.DefaultTransport, reported: reported}}))
	s.xssFleet(t)
	ed := s.person(t, newBrowser(t))
	ed.do(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: defineXSS})
		return chromedp.Void{}, err
	})
	ed.signIn("ed")

	// A name the hub refuses, typed into the editor: the editor's status
	// line and the server's field errors both quote it.
	modTwin := moduleURL(xssDeviceQuote, xssModuleQuote) + "/twin"
	ed.openEditor(modTwin)
	ed.typeInEditor("ed-desired", `{"`+xssBadName+`": 1}`)
	ed.waitStatus("ed-desired", "1 problem: desired."+xssBadName+": Property or Tag name has invalid characters")
	ed.xssChecks(dir, pageCheck{name: "editor with a refused name", texts: []string{"desired." + xssBadName}})
	if st := ed.click(reviewButton); st != 422 {
		t.Errorf("review of a refused name: HTTP %d, want 422", st)
	}
	ed.xssChecks(dir, pageCheck{name: "review refused", texts: []string{xssBadName}})

	// A change with payloads in its path, value and reason, saved through
	// the dashboard so that the audit trail holds them.
	ed.openEditor(modTwin)
	ed.typeInEditor("ed-desired", `{"fw": "1.0", "`+xssEditName+`": "`+xssEditValue+`"}`)
	ed.waitStatus("ed-desired", "Valid JSON")
	if st := ed.click(reviewButton); st != 200 {
		t.Fatalf("review: HTTP %d", st)
	}
	ed.xssChecks(dir, pageCheck{name: "review", texts: []string{xssEditName, xssEditValue}})
	// Set, not typed: key events cannot carry U+202E.
	ed.do(chromedp.SetValue(chromedp.ID("reason"), xssAuditReason))
	if st := ed.click(saveButton); st != 200 {
		t.Fatalf("save: HTTP %d", st)
	}
	ed.xssChecks(dir, pageCheck{name: "saved", texts: []string{"desired." + xssEditName}})
	ed.open("/audit")
	ids := ed.texts(`table.audit a[aria-label^="Audit entry #"]`)
	if len(ids) == 0 {
		t.Fatal("the audit trail lists no entry")
	}

	// Tags show only in their editor; desired and reported properties show
	// in the table that compares them, and reported ones as JSON too.
	twinTexts := []string{xssDesiredName, xssNestedName, xssDesiredValue, xssLongDesired, xssReportedName, xssReportedVal, xssLongReported}
	pages := []pageCheck{
		{name: "overview", path: "/", texts: []string{strings.TrimSpace(xssAuditReason)}},
		{name: "device list", path: "/devices", texts: []string{xssDeviceQuote, xssDeviceJS, xssDevicePercent, xssDeviceURL, xssDeviceLong}},
		{name: "device list search", path: "/devices?q=" + url.QueryEscape(xssQuery)},
		{name: "device list where", path: "/devices?where=" + url.QueryEscape(`properties.reported.x = '`+xssQuery+`'`)},
		{name: "device list tag", path: "/devices?tag=" + url.QueryEscape(xssTagName+"="+xssQuery), status: 422, fields: map[string]string{"tag": xssTagName + "=" + xssQuery}},
		{name: "device quote", path: deviceURL(xssDeviceQuote), texts: []string{xssDeviceQuote, xssModuleJS, xssModuleQuote, xssManagedBy},
			fields: map[string]string{"statusReason": xssStatusReason}},
		{name: "device js", path: deviceURL(xssDeviceJS), texts: []string{xssDeviceJS}},
		{name: "device percent", path: deviceURL(xssDevicePercent), texts: []string{xssDevicePercent}},
		{name: "device url", path: deviceURL(xssDeviceURL), texts: []string{xssDeviceURL}},
		{name: "device long", path: deviceURL(xssDeviceLong), texts: []string{xssDeviceLong}},
		{name: "module js", path: moduleURL(xssDeviceQuote, xssModuleJS), texts: []string{xssModuleJS, xssManagedBy}},
		{name: "module quote", path: moduleURL(xssDeviceQuote, xssModuleQuote), texts: []string{xssModuleQuote}},
		{name: "module long", path: moduleURL(xssDeviceLong, xssDeviceLong), texts: []string{xssDeviceLong}},
		{name: "audit list", path: "/audit", texts: []string{xssDeviceQuote, xssModuleQuote, strings.TrimSpace(xssAuditReason)}},
		{name: "audit filtered", path: "/audit?person=" + url.QueryEscape(xssQuery) + "&device=" + url.QueryEscape(xssDeviceQuote)},
		{name: "audit bad filter", path: "/audit?from=" + url.QueryEscape(xssQuery), status: 422, texts: []string{xssQuery}},
		{name: "module history", path: moduleURL(xssDeviceQuote, xssModuleQuote) + "/history", texts: []string{xssEditName, xssEditValue}},
		{name: "device history", path: deviceURL(xssDeviceQuote) + "/history", texts: []string{xssEditName}},
	}
	for _, id := range ids {
		n := strings.TrimPrefix(id, "#")
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("audit entry link %q", id)
		}
		pages = append(pages, pageCheck{name: "audit entry " + n, path: "/audit/" + n})
	}
	for _, c := range pages {
		ed.xssPage(dir, c)
	}

	// The twin pages, editors running: the payloads must reach the editor
	// as the very text the hub holds.
	for _, twin := range []struct{ name, path string }{
		{"device twin", deviceURL(xssDeviceQuote) + "/twin"},
		{"module twin", moduleURL(xssDeviceQuote, xssModuleJS) + "/twin"},
		{"long device twin", deviceURL(xssDeviceLong) + "/twin"},
		{"url device twin", deviceURL(xssDeviceURL) + "/twin"},
	} {
		ed.openEditor(twin.path)
		ed.xssChecks(dir, pageCheck{name: twin.name, texts: twinTexts})
		var tags map[string]any
		if err := json.Unmarshal([]byte(ed.editorText("ed-tags")), &tags); err != nil {
			t.Fatalf("%s: tags editor: %v", twin.name, err)
		}
		if tags[xssTagName] != xssTagValue || tags["lines"] != xssSeparators || tags["rtl"] != xssRTL || tags["long"] != xssLongTag {
			t.Errorf("%s: the tags editor holds %q", twin.name, shorten(fmt.Sprint(tags)))
		}
		// CodeMirror shows what the textarea holds: the payloads are text
		// in the editor too, not elements, and read as they were written
		// (but for U+202E, which it shows as a marker, so that it cannot
		// turn the text around).
		shown := eval[string](ed, `document.querySelector("#ed-tags + .json-editor-host").shadowRoot.querySelector(".cm-content").textContent`)
		for _, want := range []string{xssTagName, xssTagValue, xssAttrName, xssJSURL, xssTemplates} {
			if !strings.Contains(shown, want) {
				t.Errorf("%s: the tags editor does not show %q as it was written", twin.name, want)
			}
		}
	}
}
