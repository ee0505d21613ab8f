package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// testHub is an emulator server with a raw HTTP helper, so that tests see
// exactly what goes over the wire.
type testHub struct {
	t   *testing.T
	srv *emulator.Server
}

func newTestHub(t *testing.T, opts emulator.Options) *testHub {
	t.Helper()
	srv, err := emulator.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testHub{t: t, srv: srv}
}

// reply is a response as the test sees it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it cannot.
func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// obj decodes the body as an object.
func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

// code is the error name in the iothub-errorcode header.
func (r reply) code() string { return r.header.Get("iothub-errorcode") }

// call describes one request. Path is sent as is, with api-version added
// unless noVersion; body is JSON-encoded unless it is a string or []byte.
type call struct {
	method    string
	path      string
	body      any
	header    map[string]string
	policy    string // default iothubowner; "-" sends no Authorization
	noVersion bool
}

func (h *testHub) token(policy string) string {
	h.t.Helper()
	tok, err := hub.SignSAS(h.srv.HostName(), policy, h.srv.Emulator().PolicyKey(policy), time.Now().Add(time.Hour))
	if err != nil {
		h.t.Fatalf("SignSAS: %v", err)
	}
	return tok
}

func (h *testHub) do(c call) reply {
	h.t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	u := h.srv.URL() + c.path
	if !c.noVersion {
		sep := "?"
		if strings.Contains(c.path, "?") {
			sep = "&"
		}
		u += sep + "api-version=2021-04-12"
	}
	req, err := http.NewRequest(c.method, u, body)
	if err != nil {
		h.t.Fatalf("NewRequest %s %s: %v", c.method, u, err)
	}
	switch c.policy {
	case "-":
	case "":
		req.Header.Set("Authorization", h.token(emulator.PolicyOwner))
	default:
		req.Header.Set("Authorization", h.token(c.policy))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", c.method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	r := reply{status: res.StatusCode, header: res.Header, body: b}
	checkShape(h.t, c, r)
	return r
}

var (
	messagePattern   = regexp.MustCompile(`^ErrorCode:([A-Za-z]+);.+`)
	exceptionPattern = regexp.MustCompile(`^Tracking ID:[0-9a-f]{32}-G:0-TimeStamp:.+`)
)

// checkShape checks what every response must look like: JSON bodies with
// the hub's content type, errors in the hub's envelope, and never a 5xx
// the test did not ask for.
func checkShape(t *testing.T, c call, r reply) {
	t.Helper()
	if r.status >= 500 && r.status != http.StatusServiceUnavailable {
		t.Errorf("%s %s: status %d: %s", c.method, c.path, r.status, r.body)
	}
	if len(r.body) > 0 {
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}
	if r.status < 400 {
		return
	}
	var env struct{ Message, ExceptionMessage string }
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Errorf("%s %s: error body %s: %v", c.method, c.path, r.body, err)
		return
	}
	m := messagePattern.FindStringSubmatch(env.Message)
	if m == nil || m[1] != r.code() {
		t.Errorf("%s %s: Message %q does not match header %q", c.method, c.path, env.Message, r.code())
	}
	if !exceptionPattern.MatchString(env.ExceptionMessage) {
		t.Errorf("%s %s: ExceptionMessage %q", c.method, c.path, env.ExceptionMessage)
	}
}

// want checks status and, for errors, the error name.
func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.code(), status, code, r.body)
	}
}

// createDevice creates a device with default settings and returns it.
func (h *testHub) createDevice(id string, body map[string]any) map[string]any {
	h.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	r := h.do(call{method: "PUT", path: "/devices/" + id, body: body})
	want(h.t, r, http.StatusOK, "")
	return r.obj(h.t)
}

func (h *testHub) createModule(id, mid string) map[string]any {
	h.t.Helper()
	r := h.do(call{method: "PUT", path: "/devices/" + id + "/modules/" + mid, body: map[string]any{}})
	want(h.t, r, http.StatusOK, "")
	return r.obj(h.t)
}
