package handlers_test

import (
	"net/http"
	"net/url"

	"github.com/hubdesk/hubdesk/internal/formtest"
)

// htmlForm is a form on a page as a browser would submit it.
type htmlForm struct {
	action string
	values url.Values
}

// pageForms reads the forms of a page: hidden and text inputs, checked
// radios and checkboxes, textareas and selects.
func pageForms(page string) []htmlForm {
	forms, _ := formtest.Parse(page)
	out := make([]htmlForm, len(forms))
	for i, f := range forms {
		out[i] = htmlForm{action: f.Action, values: f.Values}
	}
	return out
}

// submit posts the form of page that can be sent to action, with changes
// applied on top of what the page filled in, as a person clicking its
// button would.
func (b *browser) submit(page, action string, changes url.Values) (*http.Response, string) {
	b.t.Helper()
	values, err := formtest.For(page, action)
	if err != nil {
		b.t.Fatalf("%v on the page:\n%s", err, page)
	}
	for k, v := range changes {
		values[k] = v
	}
	return b.post(action, values)
}
