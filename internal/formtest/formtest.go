// Package formtest reads the forms of an HTML page as a browser would
// submit them, for tests that drive the dashboard over HTTP: the handler
// tests and the proof harness share it so both fill in forms the same way.
package formtest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Form is a form on a page as a browser would submit it.
type Form struct {
	// Action is the form's action attribute.
	Action string
	// Actions are Action and the formactions of the form's buttons: every
	// URL a click can send the form to.
	Actions []string
	// Values are the fields a browser sends: hidden and text inputs,
	// checked radios and checkboxes, textareas and selects.
	Values url.Values
}

// PostsTo reports whether a click can send the form to action.
func (f Form) PostsTo(action string) bool {
	return slices.Contains(f.Actions, action)
}

// Parse returns the forms of page in document order.
func Parse(page string) ([]Form, error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse page: %w", err)
	}
	var forms []Form
	var cur *Form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				a := attr(n, "action")
				forms = append(forms, Form{Action: a, Actions: []string{a}, Values: url.Values{}})
				cur = &forms[len(forms)-1]
			case "input":
				if cur != nil && attr(n, "name") != "" {
					readInput(cur, n)
				}
			case "textarea":
				if cur != nil {
					v := ""
					if n.FirstChild != nil {
						v = n.FirstChild.Data
					}
					cur.Values.Set(attr(n, "name"), v)
				}
			case "select":
				if cur != nil {
					cur.Values.Set(attr(n, "name"), selected(n))
				}
			case "button":
				if cur != nil && attr(n, "formaction") != "" {
					cur.Actions = append(cur.Actions, attr(n, "formaction"))
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
	return forms, nil
}

// For returns the values of the form on page that a click can send to
// action.
func For(page, action string) (url.Values, error) {
	forms, err := Parse(page)
	if err != nil {
		return nil, err
	}
	for _, f := range forms {
		if f.PostsTo(action) {
			return f.Values, nil
		}
	}
	return nil, fmt.Errorf("no form posts to %s", action)
}

func readInput(f *Form, n *html.Node) {
	name := attr(n, "name")
	switch attr(n, "type") {
	case "radio", "checkbox":
		if !hasAttr(n, "checked") {
			return
		}
		// A checked box without a value is sent as "on".
		v := "on"
		if hasAttr(n, "value") {
			v = attr(n, "value")
		}
		f.Values.Set(name, v)
	case "submit", "button":
	default:
		f.Values.Set(name, attr(n, "value"))
	}
}

// selected is the value of a select's selected option, or of its first
// as a browser would send.
func selected(n *html.Node) string {
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
		return first
	}
	return chosen
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
