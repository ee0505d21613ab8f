package handlers_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hubdesk/hubdesk/hub"
)

const (
	twinPath   = "/devices/dev1/modules/mod1/twin"
	reviewPath = twinPath + "/review"
	savePath   = twinPath + "/save"
)

// newTwinApp is an app whose hub has dev1/mod1 with tags and desired
// properties set.
func newTwinApp(t *testing.T) *app {
	t.Helper()
	a := newApp(t, appOptions{})
	ctx := context.Background()
	createDevices(t, a.hub, "dev1")
	if _, err := a.hub.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "mod1"}); err != nil {
		t.Fatal(err)
	}
	a.patchTwin(`{"tags":{"site":"A"},"properties":{"desired":{"fw":"1.0","mode":"eco"}}}`)
	return a
}

// patchTwin changes dev1/mod1's twin behind the dashboard's back, as a
// colleague or another tool would.
func (a *app) patchTwin(patch string) *hub.Twin {
	a.t.Helper()
	tw, err := a.hub.UpdateModuleTwin(context.Background(), "dev1", "mod1", []byte(patch), hub.Unconditional())
	if err != nil {
		a.t.Fatal(err)
	}
	return tw
}

// twinState is dev1/mod1's tags and desired properties on the hub, without
// $metadata and $version.
func (a *app) twinState() (tags, desired map[string]any, etag string) {
	a.t.Helper()
	tw, err := a.hub.GetModuleTwin(context.Background(), "dev1", "mod1")
	if err != nil {
		a.t.Fatal(err)
	}
	json.Unmarshal(tw.Tags, &tags)
	json.Unmarshal(tw.Properties.Desired, &desired)
	delete(desired, "$metadata")
	delete(desired, "$version")
	return tags, desired, tw.ETag
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}
}

func TestTwinEditReviewSave(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	res, page := b.get(twinPath)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET twin: %d", res.StatusCode)
	}
	_, _, etag := a.twinState()
	mustContain(t, page, html.EscapeString(etag), `data-json-editor`, `&#34;fw&#34;: &#34;1.0&#34;`)

	res, review := b.submit(page, reviewPath, url.Values{
		"desired": {`{"fw": "2.0"}`},
		"tags":    {`{"site": "A", "room": 12}`},
	})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("review: %d\n%s", res.StatusCode, review)
	}
	// The exact patch: the new tag, the changed value, the removed key as null.
	mustContain(t, review, "PATCH", `&#34;room&#34;: 12`, `&#34;fw&#34;: &#34;2.0&#34;`, `&#34;mode&#34;: null`, "3 change(s) to save")
	if _, _, now := a.twinState(); now != etag {
		t.Fatal("review sent something to the hub")
	}

	res, _ = b.submit(review, savePath, url.Values{"reason": {"TICKET-1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != twinPath {
		t.Fatalf("save: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	tags, desired, _ := a.twinState()
	if tags["room"] != float64(12) || desired["fw"] != "2.0" || desired["mode"] != nil {
		t.Fatalf("hub twin after save: tags %v desired %v", tags, desired)
	}
	_, page = b.get(twinPath)
	mustContain(t, page, "Saved 3 changes", "tags.room (added)", "desired.mode (removed)",
		`data-draft-clear="hubdesk:draft:/devices/dev1/modules/mod1/twin:tags hubdesk:draft:/devices/dev1/modules/mod1/twin:desired"`)
	// The saved-draft notice is for the next page only.
	_, page = b.get(twinPath)
	if strings.Contains(page, "data-draft-clear") {
		t.Error("drafts cleared again on a later page")
	}
}

func TestTwinDraftProblemsKeepTheDraft(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, _, etag := a.twinState()
	deep := `{"a":` + strings.Repeat(`{"b":`, 11) + `1` + strings.Repeat(`}`, 12)
	tests := []struct {
		name, tags, desired string
		status              int
		want                []string
	}{
		{"syntax", `{"site": "A"}`, "{\n  \"fw\": 2.0,\n}", http.StatusUnprocessableEntity,
			[]string{"Not valid JSON at line 3, column 1", "fix the problems"}},
		{"read-only metadata", `{"site": "A"}`, `{"$version": 3}`, http.StatusUnprocessableEntity,
			[]string{"desired.$version", "The hub maintains $metadata and $version"}},
		{"too deep", `{"site": "A"}`, deep, http.StatusUnprocessableEntity, []string{"desired.a.b.b.b.b.b.b.b.b.b"}},
		{"bad name", `{"si te": 1}`, `{"fw": "1.0", "mode": "eco"}`, http.StatusUnprocessableEntity, []string{"tags"}},
		{"long string", `{"site": "` + strings.Repeat("x", 4097) + `"}`, `{}`, http.StatusUnprocessableEntity, []string{"tags.site"}},
		{"not an object", `[]`, `{}`, http.StatusUnprocessableEntity, []string{"ust be a JSON object"}},
		{"nothing changed", `{"site":"A"}`, `{"mode":"eco","fw":"1.0"}`, http.StatusOK, []string{"Nothing changed", "Nothing was sent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.submit(page, reviewPath, url.Values{"tags": {tt.tags}, "desired": {tt.desired}})
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
			mustContain(t, body, tt.want...)
			// The draft comes back in the editors, exactly as typed.
			f := formPosting(t, body, reviewPath)
			if f.Get("tags") != tt.tags || f.Get("desired") != tt.desired {
				t.Errorf("draft not kept: tags %q desired %q", f.Get("tags"), f.Get("desired"))
			}
			if f.Get("etag") != etag {
				t.Errorf("base etag %q, want %q", f.Get("etag"), etag)
			}
		})
	}
	if _, _, now := a.twinState(); now != etag {
		t.Fatal("a refused draft reached the hub")
	}
}

// formPosting returns the values of the page's form that posts to action.
func formPosting(t *testing.T, page, action string) url.Values {
	t.Helper()
	for _, f := range pageForms(page) {
		if f.action == action {
			return f.values
		}
	}
	t.Fatalf("no form posts to %s", action)
	return nil
}

func TestTwinConflictDisjointAppliesOnTop(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})

	// A colleague changes another key meanwhile.
	a.patchTwin(`{"tags":{"owner":"bob"}}`)
	res, prompt := b.submit(review, savePath, nil)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("save over a change: %d, want 409", res.StatusCode)
	}
	mustContain(t, prompt, "Your changes were not saved", "What changed underneath", "tags.owner",
		"do not overlap", "Apply my changes on top of the latest")
	if _, desired, _ := a.twinState(); desired["fw"] != "1.0" {
		t.Fatal("the refused save changed the twin")
	}
	res, _ = b.submit(prompt, savePath, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply on top: %d", res.StatusCode)
	}
	tags, desired, _ := a.twinState()
	if tags["owner"] != "bob" || desired["fw"] != "2.0" || desired["mode"] != "eco" {
		t.Fatalf("after apply on top: tags %v desired %v", tags, desired)
	}
}

func TestTwinConflictOverlappingChoosesPerPath(t *testing.T) {
	for _, tt := range []struct {
		choice string
		wantFw string
	}{{"mine", "2.0"}, {"theirs", "3.0"}} {
		t.Run(tt.choice, func(t *testing.T) {
			a := newTwinApp(t)
			b := a.browser()
			b.signIn("ed")
			_, page := b.get(twinPath)
			_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco", "led": true}`}})
			a.patchTwin(`{"properties":{"desired":{"fw":"3.0"}}}`)
			res, prompt := b.submit(review, savePath, nil)
			if res.StatusCode != http.StatusConflict {
				t.Fatalf("save: %d", res.StatusCode)
			}
			mustContain(t, prompt, "1 conflicting change(s)", "desired.fw", `&#34;1.0&#34;`, `&#34;3.0&#34;`, `&#34;2.0&#34;`)
			res, review = b.submit(prompt, twinPath+"/resolve", url.Values{"choice0": {tt.choice}})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("resolve: %d\n%s", res.StatusCode, review)
			}
			mustContain(t, review, "Changed underneath", "desired.led")
			res, _ = b.submit(review, savePath, nil)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("save resolved: %d", res.StatusCode)
			}
			_, desired, _ := a.twinState()
			if desired["fw"] != tt.wantFw || desired["led"] != true {
				t.Fatalf("desired after resolve: %v", desired)
			}
		})
	}
}

func TestTwinConflictResolveNeedsEveryChoice(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})
	a.patchTwin(`{"properties":{"desired":{"fw":"3.0"}}}`)
	_, prompt := b.submit(review, savePath, nil)
	f := formPosting(t, prompt, twinPath+"/resolve")
	f.Del("choice0")
	res, body := b.post(twinPath+"/resolve", f)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("resolve without a choice: %d", res.StatusCode)
	}
	mustContain(t, body, "Choose keep mine or take theirs for every row: desired.fw")
}

func TestTwinOverwriteAnywayIsForAdminsAndListsLosses(t *testing.T) {
	a := newTwinApp(t)
	ed := a.browser()
	ed.signIn("ed")
	_, page := ed.get(twinPath)
	_, review := ed.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})
	a.patchTwin(`{"properties":{"desired":{"fw":"3.0"}}}`)
	_, prompt := ed.submit(review, savePath, nil)
	if strings.Contains(prompt, "Overwrite anyway") {
		t.Error("an editor is offered overwrite")
	}
	form := formPosting(t, prompt, twinPath+"/resolve")
	if res, _ := ed.post(twinPath+"/overwrite", form); res.StatusCode != http.StatusForbidden {
		t.Errorf("editor overwrite: %d, want 403", res.StatusCode)
	}

	al := a.browser()
	al.signIn("alice")
	_, page = al.get(twinPath)
	a.patchTwin(`{"properties":{"desired":{"fw":"4.0"}}}`)
	_, review = al.submit(page, reviewPath, url.Values{"desired": {`{"fw": "2.0", "mode": "eco"}`}})
	res, prompt := al.submit(review, savePath, nil)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("save: %d", res.StatusCode)
	}
	res, preview := al.submit(prompt, twinPath+"/overwrite", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("overwrite preview: %d", res.StatusCode)
	}
	mustContain(t, preview, "Lost if you overwrite", `&#34;4.0&#34;`, "Overwrite: save and discard")
	res, _ = al.submit(preview, savePath, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("overwrite: %d", res.StatusCode)
	}
	if _, desired, _ := a.twinState(); desired["fw"] != "2.0" {
		t.Fatalf("after overwrite: %v", desired)
	}
}

func TestTwinReplaceModeSendsPut(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"mode": {"replace"}, "tags": {`{}`}, "desired": {`{"fw": "9"}`}})
	mustContain(t, review, "PUT", `&#34;tags&#34;: {}`)
	res, _ := b.submit(review, savePath, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace: %d", res.StatusCode)
	}
	tags, desired, _ := a.twinState()
	if len(tags) != 0 || len(desired) != 1 || desired["fw"] != "9" {
		t.Fatalf("after replace: tags %v desired %v", tags, desired)
	}
}

func TestDeviceTwinUsesTheSamePipeline(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	_, page := b.get("/devices/dev1/twin")
	_, review := b.submit(page, "/devices/dev1/twin/review", url.Values{"tags": {`{"floor": 3}`}})
	res, _ := b.submit(review, "/devices/dev1/twin/save", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices/dev1/twin" {
		t.Fatalf("save device twin: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	tw, err := a.hub.GetTwin(context.Background(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if string(tw.Tags) != `{"floor":3}` {
		t.Fatalf("device twin tags %s", tw.Tags)
	}
}

func TestTwinWritesNeedTheRightRole(t *testing.T) {
	a := newTwinApp(t)
	ctx := context.Background()
	if _, err := a.hub.CreateModule(ctx, &hub.Module{DeviceID: "dev1", ModuleID: "$edgeAgent"}); err != nil {
		t.Fatal(err)
	}
	vic := a.browser()
	vic.signIn("vic")
	res, page := vic.get(twinPath)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("viewer GET twin: %d", res.StatusCode)
	}
	for _, action := range []string{"/edit", "/review", "/save", "/resolve", "/overwrite"} {
		if res, _ := vic.submit(page, reviewPath, nil); action == "/review" && res.StatusCode != http.StatusForbidden {
			t.Errorf("viewer review: %d, want 403", res.StatusCode)
		}
		f := formPosting(t, page, reviewPath)
		if res, _ := vic.post(twinPath+action, f); res.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", action, res.StatusCode)
		}
	}
	ed := a.browser()
	ed.signIn("ed")
	sys := "/devices/dev1/modules/$edgeAgent/twin"
	_, page = ed.get(sys)
	mustContain(t, page, "system module", "data-readonly")
	if strings.Contains(page, "Review changes") {
		t.Error("system module twin offers saving")
	}
	f := url.Values{"_csrf": {ed.csrf(sys)}, "etag": {"x"}, "tags": {`{"a":1}`}}
	if res, _ := ed.post(sys+"/save", f); res.StatusCode != http.StatusForbidden {
		t.Errorf("save system module twin: %d, want 403", res.StatusCode)
	}
}
