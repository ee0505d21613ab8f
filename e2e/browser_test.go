package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/hubdesk/hubdesk/handlers"
	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/static"
	"github.com/hubdesk/hubdesk/storage"
)

const password = "correct horse battery staple"

// Time limits: a whole test (browser start included), and one step of it,
// such as a click that loads a page. A step that waits for an element that
// never comes fails after stepTimeout instead of hanging the suite.
const (
	testTimeout = 90 * time.Second
	stepTimeout = 15 * time.Second
)

// site is the dashboard served over real HTTP on an emulated hub, wired as
// the hubdesk command wires it, with an admin (alice) and an editor (ed).
type site struct {
	url string
	hub *hub.Client
}

// newSite starts a site whose hub holds a demo fleet of demo devices. The
// dashboard's hub client takes opts (a test's own HTTP client, say); the
// site's own client, for setting the scene, does not.
func newSite(t *testing.T, demo int, opts ...hub.Option) *site {
	t.Helper()
	emu, err := emulator.NewServer(emulator.Options{SeedDemo: demo, SeedRandom: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hubdesk.db"), storage.Options{BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for name, role := range map[string]storage.Role{"alice": storage.RoleAdmin, "ed": storage.RoleEditor} {
		if err := db.CreateUser(ctx, name, password, role); err != nil {
			t.Fatal(err)
		}
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	hashKey, blockKey := make([]byte, 64), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	logs := &serverLog{}
	// Checked after the server stops (cleanups run last in, first out), so
	// that every request has been logged.
	t.Cleanup(func() {
		if s := logs.errors(); s != "" {
			t.Errorf("the server logged errors:\n%s", s)
		}
	})
	h := handlers.New(handlers.Deps{
		Hub:           emu.Client(opts...),
		HubName:       "embedded emulator (" + emu.HostName() + ")", // as the hubdesk command names it
		DB:            db,
		Sessions:      handlers.NewCookieStore(hashKey, blockKey, time.Hour, false),
		Assets:        assets,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SessionMaxAge: time.Hour,
	})
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &site{url: srv.URL, hub: emu.Client()}
}

// serverLog keeps the server's warnings and errors for the end of a test.
type serverLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// errors returns the lines logged at level ERROR.
func (l *serverLog) errors() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// chromiumPath finds Chromium: HUBDESK_CHROMIUM, else Debian's
// /usr/bin/chromium. Without it the test is skipped, except in CI, where a
// missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HUBDESK_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s (CI=true): install Debian's chromium package", path)
		}
		t.Skipf("no Chromium at %s: install Debian's chromium package (apt-get install chromium) or set HUBDESK_CHROMIUM", path)
	}
	return path
}

// newBrowser starts a headless Chromium with a fresh profile for t. It
// closes when t ends, or after testTimeout, whichever comes first.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
	})
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return browserCtx
}

// person is one person at the dashboard: a browser context of their own
// (cookies, localStorage) with one tab. Anything the page reports as an
// error (console.error, an uncaught exception, a CSP violation, a failed
// script or style sheet) fails the test.
type person struct {
	t    *testing.T
	ctx  context.Context
	site *site

	mu       sync.Mutex
	problems []string
}

// personOption configures a person's tab before the first page.
type personOption func(*person) chromedp.Action[chromedp.Void]

// withoutJavaScript turns JavaScript off in the person's tab.
func withoutJavaScript(p *person) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	}
}

// reportCSP makes every page report CSP violations on the console, where
// the listener sees them. Chromium logs them itself too; this catches them
// however that logging changes.
const reportCSP = `document.addEventListener("securitypolicyviolation", (e) =>
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`

// person opens a new browser context in browser for someone at s, for
// the time of test t.
func (s *site) person(t *testing.T, browser context.Context, opts ...personOption) *person {
	t.Helper()
	p := &person{t: t, site: s}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.listen))
	t.Cleanup(func() {
		cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pr := range p.problems {
			t.Errorf("page problem: %s", pr)
		}
	})
	p.ctx = ctx
	// The first action opens the tab and binds it to the context it runs
	// with: that must be the person's, not a step's with its timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	steps := []chromedp.Action[chromedp.Void]{
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: reportCSP})
			return chromedp.Void{}, err
		},
		chromedp.EmulateViewport(1280, 900),
	}
	for _, o := range opts {
		steps = append(steps, o(p))
	}
	p.do(steps...)
	return p
}

// listen runs in the tab's event loop: it only notes problems.
func (p *person) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					var s string
					if json.Unmarshal(a.Value, &s) == nil {
						args = append(args, s)
						continue
					}
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			p.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		p.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *cdplog.EventEntryAdded:
		// Network errors are judged by their responses below: a page
		// answered 409 or 422 is expected; a missing script is not.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			p.problem("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventResponseReceived:
		// The browser asks for /favicon.ico by itself; hubdesk has none.
		if ev.Type != network.ResourceTypeDocument && ev.Response.Status >= 400 && !strings.HasSuffix(ev.Response.URL, "/favicon.ico") {
			p.problem("%s %s: HTTP %d", ev.Type, ev.Response.URL, ev.Response.Status)
		}
	case *network.EventLoadingFailed:
		if ev.Type != network.ResourceTypeDocument && !ev.Canceled {
			p.problem("%s failed to load: %s", ev.Type, ev.ErrorText)
		}
	}
}

// takeProblems returns the problems noted so far and forgets them.
func (p *person) takeProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.problems
	p.problems = nil
	return out
}

func (p *person) problem(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// do runs steps in the person's tab, failing the test on an error.
func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// run runs one action that returns a value.
func run[T any](p *person, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](p *person, js string) T {
	p.t.Helper()
	return run(p, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// open loads a dashboard path and returns the HTTP status of the page.
func (p *person) open(path string) int64 {
	p.t.Helper()
	res := run(p, chromedp.NavigateResponse(p.site.url+path))
	return res.Status
}

// follow runs steps that load a page (a click on a link or a submit
// button) and returns the status of the page they lead to.
func (p *person) follow(steps ...chromedp.Action[chromedp.Void]) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		p.t.Fatalf("browser: %v", err)
	}
	return res.Status
}

// click clicks the element sel finds and waits for the page it loads.
func (p *person) click(sel string) int64 {
	p.t.Helper()
	return p.follow(chromedp.Click(chromedp.CSS(sel)))
}

// text is the visible text of the element sel finds; it waits for one.
func (p *person) text(sel string) string {
	p.t.Helper()
	return run(p, chromedp.Text(chromedp.CSS(sel)))
}

// texts is the text of every element sel finds, none if there is none.
// It reads the DOM through the protocol, so it works without JavaScript.
func (p *person) texts(sel string) []string {
	p.t.Helper()
	nodes := run(p, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	var out []string
	for _, n := range nodes {
		out = append(out, run(p, chromedp.TextContent(chromedp.NodeIDs{n.NodeID})))
	}
	return out
}

// path is the path of the page the tab shows.
func (p *person) path() string {
	p.t.Helper()
	loc := run(p, chromedp.Location())
	return strings.TrimPrefix(loc, p.site.url)
}

// signIn signs in as name from the sign-in page and checks that the
// overview follows.
func (p *person) signIn(name string) {
	p.t.Helper()
	if st := p.open("/login"); st != 200 {
		p.t.Fatalf("sign-in page: HTTP %d", st)
	}
	p.do(chromedp.SendKeys(chromedp.ID("name"), name), chromedp.SendKeys(chromedp.ID("password"), password))
	if st := p.click(`form[action="/login"] button[type=submit]`); st != 200 || p.path() != "/" {
		p.t.Fatalf("sign in as %s: HTTP %d at %s", name, st, p.path())
	}
}

// editorContent selects the CodeMirror content element of the editor that
// replaced textarea id; it lives in a shadow root, which CSS cannot reach.
func editorContent(id string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`document.querySelector("#%s + .json-editor-host").shadowRoot.querySelector(".cm-content")`, id))
}

// typeInEditor replaces the content of the editor over textarea id by
// typing text, key by key, as a person does: select all, then type.
// CodeMirror closes brackets and quotes as they are typed and steps over
// the closing ones when they are typed too, so typing a whole JSON text
// gives exactly that text.
func (p *person) typeInEditor(id, text string) {
	p.t.Helper()
	p.do(
		chromedp.Click(editorContent(id)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(kb.ModifierCtrl)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.KeyEvent(text),
	)
	if got := p.editorText(id); got != text {
		p.t.Fatalf("typed %q into the editor over #%s; the form holds %q", text, id, got)
	}
}

// editorText is the document of the editor over textarea id, as the form
// posts it (the editor keeps the hidden textarea in sync).
func (p *person) editorText(id string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`document.getElementById(%q).value`, id))
}

// waitStatus waits until the status line of editor id starts with want,
// and returns it. The editor checks the hub's rules 200 ms after typing
// stops.
func (p *person) waitStatus(id, want string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	js := fmt.Sprintf(`document.querySelector("#%s-status .editor-verdict")?.textContent ?? ""`, id)
	var got string
	for ctx.Err() == nil {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err == nil {
			got = s
			if strings.HasPrefix(got, want) {
				return got
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("status of %s is %q, want it to start with %q", id, got, want)
	return ""
}

// screenshot saves the viewport as a PNG in dir.
func (p *person) screenshot(dir, name string) {
	p.t.Helper()
	png := run(p, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
