package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	a := newTwinApp(t)
	b := a.browser()
	b.signIn("ed")
	b.post("/login", url.Values{"_csrf": {b.csrf("/login")}, "name": {"ed"}, "password": {"wrong password!"}})
	_, page := b.get(twinPath)
	_, review := b.submit(page, reviewPath, url.Values{"tags": {`{"site": "B"}`}})
	a.patchTwin(`{"tags":{"site":"C"}}`)
	b.submit(review, savePath, nil)
	b.get("/devices/no-such-device")

	res, body := a.browser().get("/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	mustContain(t, body,
		`hubdesk_http_request_duration_seconds_count{code="200",method="GET",route="/devices/:id/modules/:mid/twin"} 1`,
		`hubdesk_http_request_duration_seconds_count{code="409",method="POST",route="/devices/:id/modules/:mid/twin/save"} 1`,
		`hubdesk_hub_call_duration_seconds_count{op="UpdateModuleTwin",outcome="precondition_failed"} 1`,
		`hubdesk_hub_call_duration_seconds_count{op="GetDevice",outcome="not_found"} 1`,
		`hubdesk_edit_conflicts_total{kind="twin"} 1`,
		`hubdesk_sign_ins_total{result="ok"} 1`,
		`hubdesk_sign_ins_total{result="refused"} 1`,
		`go_goroutines`,
	)
	// Labels are route templates: ids never become label values.
	if strings.Contains(body, "dev1") || strings.Contains(body, "no-such-device") {
		t.Error("a device id became a metric label")
	}
}
