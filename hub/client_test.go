package hub

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testConn = "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey

// recorded is what a test server saw of one request.
type recorded struct {
	Method, EscapedPath, Query, Body string
	Header                           http.Header
}

// recorder is an httptest server that records requests and answers each
// with the next of its replies (the last one repeats).
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	replies []reply
}

type reply struct {
	status int
	header map[string]string
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
	rp := reply{status: 200, body: "{}"}
	if len(rec.replies) > 0 {
		rp = rec.replies[0]
		if len(rec.replies) > 1 {
			rec.replies = rec.replies[1:]
		}
	}
	rec.mu.Unlock()
	for k, v := range rp.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rp.status)
	io.WriteString(w, rp.body)
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

// newTestClient returns a client talking to a recorder answering replies.
func newTestClient(t *testing.T, replies ...reply) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{replies: replies}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(testConn, WithBaseURL(srv.URL), WithRetry(3, time.Millisecond), WithUserAgent("test-agent"))
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		call        func(c *Client) error
		method      string
		path        string
		query       string // beyond api-version
		ifMatch     string
		bodyContain string
	}{
		{"CreateDevice", func(c *Client) error { _, err := c.CreateDevice(ctx, &Device{DeviceID: "d1"}); return err },
			"PUT", "/devices/d1", "", "", `"deviceId":"d1"`},
		{"UpdateDevice", func(c *Client) error {
			_, err := c.UpdateDevice(ctx, &Device{DeviceID: "d1", Status: StatusDisabled}, IfMatch(`"ODg="`))
			return err
		}, "PUT", "/devices/d1", "", `"ODg="`, `"status":"disabled"`},
		{"UpdateDevice unconditional", func(c *Client) error {
			_, err := c.UpdateDevice(ctx, &Device{DeviceID: "d1"}, Unconditional())
			return err
		}, "PUT", "/devices/d1", "", `"*"`, `"deviceId":"d1"`},
		{"GetDevice escapes the id", func(c *Client) error { _, err := c.GetDevice(ctx, "a b#c?d%e/f;g+h"); return err },
			"GET", "/devices/a%20b%23c%3Fd%25e%2Ff%3Bg+h", "", "", ""},
		{"DeleteDevice", func(c *Client) error { return c.DeleteDevice(ctx, "d1", IfMatch("W/\"e1\"")) },
			"DELETE", "/devices/d1", "", `"e1"`, ""},
		{"ListDevices", func(c *Client) error { _, err := c.ListDevices(ctx, 25); return err },
			"GET", "/devices", "top=25", "", ""},
		{"CreateModule", func(c *Client) error {
			_, err := c.CreateModule(ctx, &Module{DeviceID: "d1", ModuleID: "m 1"})
			return err
		}, "PUT", "/devices/d1/modules/m%201", "", "", `"moduleId":"m 1"`},
		{"UpdateModule", func(c *Client) error {
			_, err := c.UpdateModule(ctx, &Module{DeviceID: "d1", ModuleID: "m1"}, IfMatch("e2"))
			return err
		}, "PUT", "/devices/d1/modules/m1", "", `"e2"`, `"deviceId":"d1"`},
		{"GetModule", func(c *Client) error { _, err := c.GetModule(ctx, "d1", "$edgeAgent"); return err },
			"GET", "/devices/d1/modules/$edgeAgent", "", "", ""},
		{"ListModules", func(c *Client) error { _, err := c.ListModules(ctx, "d1"); return err },
			"GET", "/devices/d1/modules", "", "", ""},
		{"DeleteModule", func(c *Client) error { return c.DeleteModule(ctx, "d1", "m1", Unconditional()) },
			"DELETE", "/devices/d1/modules/m1", "", `"*"`, ""},
		{"GetTwin", func(c *Client) error { _, err := c.GetTwin(ctx, "d1"); return err },
			"GET", "/twins/d1", "", "", ""},
		{"GetModuleTwin", func(c *Client) error { _, err := c.GetModuleTwin(ctx, "d1", "m1"); return err },
			"GET", "/twins/d1/modules/m1", "", "", ""},
		{"UpdateTwin sends the patch as given", func(c *Client) error {
			_, err := c.UpdateTwin(ctx, "d1", []byte(`{"tags":{"b":1,"a":null}}`), IfMatch("AAAAAAAAAAE="))
			return err
		}, "PATCH", "/twins/d1", "", `"AAAAAAAAAAE="`, `{"tags":{"b":1,"a":null}}`},
		{"UpdateModuleTwin", func(c *Client) error {
			_, err := c.UpdateModuleTwin(ctx, "d1", "m1", []byte(`{"properties":{"desired":{"x":1}}}`), Unconditional())
			return err
		}, "PATCH", "/twins/d1/modules/m1", "", `"*"`, `"desired":{"x":1}`},
		{"ReplaceTwin", func(c *Client) error {
			_, err := c.ReplaceTwin(ctx, "d1", []byte(`{"tags":{}}`), IfMatch("t1"))
			return err
		},
			"PUT", "/twins/d1", "", `"t1"`, `{"tags":{}}`},
		{"ReplaceModuleTwin", func(c *Client) error {
			_, err := c.ReplaceModuleTwin(ctx, "d1", "m1", []byte(`{"tags":{}}`), IfMatch("t1"))
			return err
		}, "PUT", "/twins/d1/modules/m1", "", `"t1"`, `{"tags":{}}`},
		{"Statistics", func(c *Client) error { _, err := c.Statistics(ctx); return err },
			"GET", "/statistics/devices", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "{}"
			if strings.HasPrefix(tt.name, "List") {
				body = "[]"
			}
			c, rec := newTestClient(t, reply{status: 200, body: body})
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.EscapedPath != tt.path {
				t.Errorf("sent %s %s, want %s %s", r.Method, r.EscapedPath, tt.method, tt.path)
			}
			wantQuery := "api-version=" + APIVersion
			if tt.query != "" {
				wantQuery += "&" + tt.query
			}
			if r.Query != wantQuery {
				t.Errorf("query %q, want %q", r.Query, wantQuery)
			}
			if got := r.Header.Get("If-Match"); got != tt.ifMatch {
				t.Errorf("If-Match %q, want %q", got, tt.ifMatch)
			}
			if !strings.Contains(r.Body, tt.bodyContain) {
				t.Errorf("body %q does not contain %q", r.Body, tt.bodyContain)
			}
			if tt.bodyContain != "" && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "SharedAccessSignature sr=myhub.azure-devices.net&sig=") || !strings.HasSuffix(auth, "&skn=iothubowner") {
				t.Errorf("Authorization %q", auth)
			}
			if ua := r.Header.Get("User-Agent"); ua != "test-agent" {
				t.Errorf("User-Agent %q", ua)
			}
		})
	}
}

func TestConditionRequired(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *Client, cond Condition) error{
		"UpdateDevice": func(c *Client, cond Condition) error {
			_, err := c.UpdateDevice(ctx, &Device{DeviceID: "d"}, cond)
			return err
		},
		"DeleteDevice": func(c *Client, cond Condition) error { return c.DeleteDevice(ctx, "d", cond) },
		"UpdateModule": func(c *Client, cond Condition) error {
			_, err := c.UpdateModule(ctx, &Module{DeviceID: "d", ModuleID: "m"}, cond)
			return err
		},
		"DeleteModule": func(c *Client, cond Condition) error { return c.DeleteModule(ctx, "d", "m", cond) },
		"UpdateTwin": func(c *Client, cond Condition) error {
			_, err := c.UpdateTwin(ctx, "d", []byte(`{}`), cond)
			return err
		},
		"UpdateModuleTwin": func(c *Client, cond Condition) error {
			_, err := c.UpdateModuleTwin(ctx, "d", "m", []byte(`{}`), cond)
			return err
		},
		"ReplaceTwin": func(c *Client, cond Condition) error {
			_, err := c.ReplaceTwin(ctx, "d", []byte(`{}`), cond)
			return err
		},
		"ReplaceModuleTwin": func(c *Client, cond Condition) error {
			_, err := c.ReplaceModuleTwin(ctx, "d", "m", []byte(`{}`), cond)
			return err
		},
	}
	conds := map[string]Condition{"zero": {}, "empty etag": IfMatch(""), "quotes only": IfMatch(`""`)}
	for name, call := range calls {
		for condName, cond := range conds {
			t.Run(name+"/"+condName, func(t *testing.T) {
				c, rec := newTestClient(t)
				if err := call(c, cond); !errors.Is(err, ErrNoCondition) {
					t.Errorf("err = %v, want ErrNoCondition", err)
				}
				if n := len(rec.requests()); n != 0 {
					t.Errorf("sent %d requests, want none", n)
				}
			})
		}
	}
}

func TestEmptyIDIsNotSent(t *testing.T) {
	c, rec := newTestClient(t)
	if _, err := c.GetDevice(context.Background(), ""); err == nil {
		t.Error("GetDevice(\"\") succeeded")
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

func TestTwinBodyMustBeObject(t *testing.T) {
	c, rec := newTestClient(t)
	for _, body := range []string{"", "null", "[1]", `{"a":`} {
		if _, err := c.UpdateTwin(context.Background(), "d", []byte(body), Unconditional()); err == nil {
			t.Errorf("UpdateTwin(%q) succeeded", body)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

func TestResponsesDecoded(t *testing.T) {
	ctx := context.Background()
	t.Run("etag from body", func(t *testing.T) {
		c, _ := newTestClient(t, reply{status: 200, body: `{"deviceId":"d1","etag":"ODg=","status":"enabled","generationId":"g"}`})
		d, err := c.CreateDevice(ctx, &Device{DeviceID: "d1"})
		if err != nil {
			t.Fatal(err)
		}
		if d.ETag != "ODg=" || d.GenerationID != "g" || d.Status != StatusEnabled {
			t.Errorf("got %+v", d)
		}
	})
	t.Run("etag from header when body has none", func(t *testing.T) {
		c, _ := newTestClient(t, reply{status: 200, header: map[string]string{"ETag": `"AAAAAAAAAAI="`}, body: `{"deviceId":"d1","tags":{"a":1}}`})
		tw, err := c.UpdateTwin(ctx, "d1", []byte(`{"tags":{"a":1}}`), Unconditional())
		if err != nil {
			t.Fatal(err)
		}
		if tw.ETag != "AAAAAAAAAAI=" || string(tw.Tags) != `{"a":1}` {
			t.Errorf("got etag %q tags %s", tw.ETag, tw.Tags)
		}
	})
	t.Run("delete 204", func(t *testing.T) {
		c, _ := newTestClient(t, reply{status: 204})
		if err := c.DeleteDevice(ctx, "d1", Unconditional()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("statistics", func(t *testing.T) {
		c, _ := newTestClient(t, reply{status: 200, body: `{"totalDeviceCount":3,"enabledDeviceCount":2,"disabledDeviceCount":1}`})
		s, err := c.Statistics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if *s != (Statistics{3, 2, 1}) {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("bad JSON", func(t *testing.T) {
		c, _ := newTestClient(t, reply{status: 200, body: `{"deviceId":`})
		if _, err := c.GetDevice(ctx, "d1"); err == nil || !strings.Contains(err.Error(), "GetDevice: decoding") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestQueryPaging(t *testing.T) {
	c, rec := newTestClient(t,
		reply{status: 200, header: map[string]string{"x-ms-item-type": "Twin", "x-ms-continuation": "tok 1"}, body: `[{"deviceId":"a"},{"deviceId":"b"}]`},
		reply{status: 200, header: map[string]string{"x-ms-item-type": "Twin"}, body: `[{"deviceId":"c"}]`},
	)
	var ids []string
	for tw, err := range c.QueryTwins(context.Background(), "SELECT * FROM devices", 2) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tw.DeviceID)
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Errorf("ids %v", ids)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, wantCont := range []string{"", "tok 1"} {
		r := reqs[i]
		if r.Method != "POST" || r.EscapedPath != "/devices/query" {
			t.Errorf("request %d: %s %s", i, r.Method, r.EscapedPath)
		}
		var body struct{ Query string }
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body.Query != "SELECT * FROM devices" {
			t.Errorf("request %d body %q", i, r.Body)
		}
		if got := r.Header.Get("x-ms-max-item-count"); got != "2" {
			t.Errorf("request %d page size %q", i, got)
		}
		if got := r.Header.Get("x-ms-continuation"); got != wantCont {
			t.Errorf("request %d continuation %q, want %q", i, got, wantCont)
		}
	}
}

func TestQueryRaw(t *testing.T) {
	c, _ := newTestClient(t, reply{status: 200, header: map[string]string{"x-ms-item-type": "Raw"}, body: `[{"n":42}]`})
	p, err := c.Query(context.Background(), "SELECT COUNT() AS n FROM devices", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ItemType != "Raw" || len(p.Items) != 1 || string(p.Items[0]) != `{"n":42}` || p.Continuation != "" {
		t.Errorf("got %+v", p)
	}
}

func TestQueryTwinsRefusesRawItems(t *testing.T) {
	c, _ := newTestClient(t, reply{status: 200, header: map[string]string{"x-ms-item-type": "Raw"}, body: `[{"n":42}]`})
	var n int
	var errs []error
	for _, err := range c.QueryTwins(context.Background(), "SELECT COUNT() AS n FROM devices", 0) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "not twins") {
		t.Errorf("got %d twins and errors %v", n, errs)
	}
}

func TestQueryTwinsStopsOnError(t *testing.T) {
	c, _ := newTestClient(t,
		reply{status: 200, header: map[string]string{"x-ms-continuation": "t"}, body: `[{"deviceId":"a"}]`},
		reply{status: 400, header: map[string]string{"iothub-errorcode": "ArgumentInvalid"}, body: `{"Message":"ErrorCode:ArgumentInvalid;bad token"}`},
	)
	var n int
	var errs []error
	for _, err := range c.QueryTwins(context.Background(), "SELECT * FROM devices", 1) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if n != 1 || len(errs) != 1 || !errors.Is(errs[0], ErrBadRequest) {
		t.Errorf("got %d twins and errors %v", n, errs)
	}
}

func TestTokenCache(t *testing.T) {
	c, rec := newTestClient(t)
	now := time.Unix(1700000000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	get := func() string {
		if _, err := c.GetDevice(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		reqs := rec.requests()
		return reqs[len(reqs)-1].Header.Get("Authorization")
	}
	first := get()
	if !strings.Contains(first, "&se=1700003600&") {
		t.Errorf("token %q, want expiry now+1h", first)
	}
	now = now.Add(40 * time.Minute)
	if again := get(); again != first {
		t.Errorf("token renewed with 20 minutes left")
	}
	now = now.Add(10 * time.Minute)
	if renewed := get(); renewed == first || !strings.Contains(renewed, "&se=1700006600&") {
		t.Errorf("token %q not renewed with 10 minutes left", renewed)
	}
}

func TestSignatureConnectionStringSentAsIs(t *testing.T) {
	const sig = "SharedAccessSignature sr=myhub.azure-devices.net&sig=abc%3D&se=1&skn=p"
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := New("HostName=myhub.azure-devices.net;SharedAccessSignature="+sig, WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Statistics(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].Header.Get("Authorization"); got != sig {
		t.Errorf("Authorization %q, want %q", got, sig)
	}
}

func TestBaseURLPrefix(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := New(testConn, WithBaseURL(srv.URL+"/hub/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTwin(context.Background(), "d"); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].EscapedPath; got != "/hub/twins/d" {
		t.Errorf("path %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		conn string
		opts []Option
	}{
		{"bad connection string", "HostName=h", nil},
		{"base URL without scheme", testConn, []Option{WithBaseURL("127.0.0.1:8081")}},
		{"base URL ftp", testConn, []Option{WithBaseURL("ftp://h")}},
		{"base URL with query", testConn, []Option{WithBaseURL("http://h/?x=1")}},
		{"nil http client", testConn, []Option{WithHTTPClient(nil)}},
		{"tiny TTL", testConn, []Option{WithTokenTTL(time.Second)}},
		{"zero attempts", testConn, []Option{WithRetry(0, time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.conn, tt.opts...); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}
