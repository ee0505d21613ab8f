package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// htmlForm is a form on a page as a browser would submit it.
type htmlForm struct {
	action  string
	actions []string // the form's action and its buttons' formactions
	values  url.Values
}

// pageForms reads the forms of a page: hidden and text inputs, checked
// radios and checkboxes, textareas and selects.
func pageForms(page string) []htmlForm {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil
	}
	var forms []htmlForm
	var cur *htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				forms = append(forms, htmlForm{action: attr(n, "action"), values: url.Values{}})
				cur = &forms[len(forms)-1]
				cur.actions = append(cur.actions, cur.action)
			case "input":
				if cur == nil || attr(n, "name") == "" {
					break
				}
				switch attr(n, "type") {
				case "radio", "checkbox":
					if hasAttr(n, "checked") {
						v := attr(n, "value")
						if v == "" && !hasAttr(n, "value") {
							v = "on"
						}
						cur.values.Set(attr(n, "name"), v)
					}
				case "submit", "button":
				default:
					cur.values.Set(attr(n, "name"), attr(n, "value"))
				}
			case "textarea":
				if cur != nil && n.FirstChild != nil {
					cur.values.Set(attr(n, "name"), n.FirstChild.Data)
				} else if cur != nil {
					cur.values.Set(attr(n, "name"), "")
				}
			case "select":
				if cur == nil {
					break
				}
				// The selected option, or the first as a browser would.
				first, chosen := "", ""
				for o := n.FirstChild; o != nil; o = o.NextSibling {
					if o.Type != html.ElementNode || o.Data != "option" {
						continue
					}
					if first == "" {
						first = attr(o, "value")
					}
					if hasAttr(o, "selected") {
						chosen = attr(o, "value")
					}
				}
				if chosen == "" {
					chosen = first
				}
				cur.values.Set(attr(n, "name"), chosen)
			case "button":
				if cur != nil && attr(n, "formaction") != "" {
					cur.actions = append(cur.actions, attr(n, "formaction"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && n.Data == "form" {
			cur = nil
		}
	}
	walk(doc)
	return forms
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == name })
}

// submit posts the form of page that can be sent to action, with changes
// applied on top of what the page filled in, as a person clicking its
// button would.
func (b *browser) submit(page, action string, changes url.Values) (*http.Response, string) {
	b.t.Helper()
	for _, f := range pageForms(page) {
		if !slices.Contains(f.actions, action) {
			continue
		}
		for k, v := range changes {
			f.values[k] = v
		}
		return b.post(action, f.values)
	}
	b.t.Fatalf("no form posts to %s on the page:\n%s", action, page)
	return nil, ""
}
