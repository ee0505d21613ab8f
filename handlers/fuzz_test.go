package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/hubdesk/hubdesk/hub"
)

// session is a signed-in person's cookies and CSRF token, for requests
// served in process.
type session struct {
	cookies []*http.Cookie
	csrf    string
}

// serve answers req in process with s's cookies.
func (ss session) serve(e *echo.Echo, req *http.Request) *httptest.ResponseRecorder {
	for _, c := range ss.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// signInDirect signs name in by serving the sign-in page and form in
// process.
func signInDirect(tb testing.TB, e *echo.Echo, name string) session {
	tb.Helper()
	var ss session
	rec := ss.serve(e, httptest.NewRequest(http.MethodGet, "/login", nil))
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		tb.Fatal("no CSRF token on /login")
	}
	ss.csrf = m[1]
	ss.cookies = rec.Result().Cookies()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{
		"_csrf": {ss.csrf}, "name": {name}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = ss.serve(e, req)
	if rec.Code != http.StatusSeeOther {
		tb.Fatalf("sign in: %d", rec.Code)
	}
	ss.cookies = append(ss.cookies, rec.Result().Cookies()...)
	return ss
}

// twinSteps are the twin pipeline's actions the fuzzer posts to.
var twinSteps = []string{"edit", "review", "save", "resolve", "overwrite"}

// FuzzTwinForm posts arbitrary twin forms (the hidden etag, base and
// "theirs" sections, the drafts, the mode, a conflict choice) to every
// step of the twin pipeline, of a device's twin and a module's, as an
// admin: no input may panic or get a 5xx. The form decoding and checking
// (readTwinForm, prepare, checked, twinedit's Diff and Rebase) are
// reached only this way.
func FuzzTwinForm(f *testing.F) {
	s := newSecApp(f, appOptions{})
	ctx := context.Background()
	if _, err := s.hub.CreateDevice(ctx, &hub.Device{DeviceID: "dev1"}); err != nil {
		f.Fatal(err)
	}
	if _, err := s.hub.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"}); err != nil {
		f.Fatal(err)
	}
	tw, err := s.hub.UpdateTwin(ctx, "dev1", []byte(`{"tags":{"site":"A","n":{"x":1}},"properties":{"desired":{"fw":"1.0","list":[1,2]}}}`), hub.Unconditional())
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.hub.UpdateModuleTwin(ctx, "dev1", "mod1", []byte(`{"properties":{"desired":{"fw":"1.0"}}}`), hub.Unconditional()); err != nil {
		f.Fatal(err)
	}
	ss := signInDirect(f, s.e, "alice")

	baseTags := `{"n": {"x": 1}, "site": "A"}`
	baseDesired := `{"fw": "1.0", "list": [1, 2]}`
	seeds := []struct {
		step                                       uint8
		etag, bTags, bDesired, tags, desired, mode string
		theirTags, theirDesired, choice            string
	}{
		{1, tw.ETag, baseTags, baseDesired, baseTags, `{"fw": "2.0"}`, "patch", "", "", ""},
		{2, tw.ETag, baseTags, baseDesired, `{"site": "B"}`, baseDesired, "replace", "", "", ""},
		{2, `"stale"`, baseTags, baseDesired, `{"site": "B"}`, baseDesired, "patch", "", "", ""},
		{3, tw.ETag, baseTags, `{"fw": "1.0"}`, baseTags, `{"fw": "2.0"}`, "patch", baseTags, `{"fw": "3.0"}`, "properties.desired.fw|mine"},
		{3, tw.ETag, baseTags, `{"fw": "1.0"}`, baseTags, `{"fw": "2.0"}`, "patch", baseTags, `{"fw": "3.0"}`, "properties.desired.fw|theirs"},
		{4, tw.ETag, baseTags, baseDesired, `{}`, `{}`, "replace", baseTags, baseDesired, ""},
		{0, "", "", "", "", "", "", "", "", ""},
		{1, "*", "{", "[", `{"a":`, `{"$x": 1}`, "patch", "", "", ""},
		{0x81, tw.ETag, "null", "null", "null", "null", "patch", "null", "null", ""},
		{0x82, tw.ETag, `{"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}`, `{}`, `{"a": null}`, `{"k\u0000": 1e999}`, "patch", "", "", ""},
		{0x83, tw.ETag, `{}`, `{}`, `{"a": 1, "a": 2}`, `{"x": "` + strings.Repeat("y", 5000) + `"}`, "replace", "", "", ""},
		{0x84, tw.ETag, `[]`, `1`, `"s"`, `true`, "replace", `[]`, `{"fw": null}`, "tags|mine"},
	}
	for _, sd := range seeds {
		f.Add(sd.step, sd.etag, sd.bTags, sd.bDesired, sd.tags, sd.desired, sd.mode, sd.theirTags, sd.theirDesired, sd.choice)
	}
	f.Fuzz(func(t *testing.T, step uint8, etag, bTags, bDesired, tags, desired, mode, theirTags, theirDesired, choice string) {
		twin := "/devices/dev1/twin/"
		if step&0x80 != 0 {
			twin = "/devices/dev1/modules/mod1/twin/"
		}
		path := twin + twinSteps[int(step&0x7f)%len(twinSteps)]
		// choice is a conflict's path and the choice for it: "path|mine".
		conflict, pick, _ := strings.Cut(choice, "|")
		form := url.Values{
			"_csrf":         {ss.csrf},
			"etag":          {etag},
			"base_tags":     {bTags},
			"base_desired":  {bDesired},
			"tags":          {tags},
			"desired":       {desired},
			"mode":          {mode},
			"their_etag":    {etag},
			"their_tags":    {theirTags},
			"their_desired": {theirDesired},
			"path0":         {conflict},
			"choice0":       {pick},
			"reason":        {choice},
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := ss.serve(s.e, req)
		if rec.Code >= 500 {
			logs := s.logs.String()
			t.Fatalf("POST %s: %d\n%s\nlog: %s", path, rec.Code, rec.Body, logs[max(0, len(logs)-2000):])
		}
	})
}
