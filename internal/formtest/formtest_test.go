package formtest

import (
	"net/url"
	"reflect"
	"testing"
)

func TestFor(t *testing.T) {
	page := `<html><body>
<form action="/search" method="get"><input name="q" value="x"></form>
<form action="/twin/review" method="post">
  <input type="hidden" name="_csrf" value="tok">
  <input name="plain">
  <input type="checkbox" name="box">
  <input type="checkbox" name="on" checked>
  <input type="checkbox" name="valued" value="yes" checked>
  <input type="radio" name="mode" value="patch">
  <input type="radio" name="mode" value="replace" checked>
  <input type="submit" name="go" value="Go">
  <textarea name="desired">{"fw": "1.0"}</textarea>
  <textarea name="empty"></textarea>
  <select name="first"><option value="a">A</option><option value="b">B</option></select>
  <select name="chosen"><option value="a">A</option><option value="b" selected>B</option></select>
  <button formaction="/twin/save">Save</button>
</form>
<input name="outside" value="no">
</body></html>`
	twin := url.Values{
		"_csrf":   {"tok"},
		"plain":   {""},
		"on":      {"on"},
		"valued":  {"yes"},
		"mode":    {"replace"},
		"desired": {`{"fw": "1.0"}`},
		"empty":   {""},
		"first":   {"a"},
		"chosen":  {"b"},
	}
	tests := []struct {
		action  string
		want    url.Values
		wantErr bool
	}{
		{"/search", url.Values{"q": {"x"}}, false},
		{"/twin/review", twin, false},
		{"/twin/save", twin, false},
		{"/nowhere", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			got, err := For(page, tt.action)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseKeepsActions(t *testing.T) {
	forms, err := Parse(`<form action="/a"><button formaction="/b">B</button><button>plain</button></form><form action="/c"></form>`)
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 2 {
		t.Fatalf("%d forms, want 2", len(forms))
	}
	if f := forms[0]; f.Action != "/a" || !reflect.DeepEqual(f.Actions, []string{"/a", "/b"}) {
		t.Errorf("first form: action %q, actions %v", f.Action, f.Actions)
	}
	if f := forms[1]; f.Action != "/c" || !f.PostsTo("/c") || f.PostsTo("/a") {
		t.Errorf("second form: %+v", f)
	}
}
