package hub

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flaky answers the first failures requests with fail (or drops the
// connection when fail is 0) and then 200 with body.
type flaky struct {
	failures int32
	fail     int
	header   map[string]string
	body     string
	calls    atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.calls.Add(1) <= f.failures {
		if f.fail == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.fail)
		w.Write([]byte(`{"Message":"ErrorCode:Busy;try later"}`))
		return
	}
	w.Write([]byte(f.body))
}

// sleeps records the waits a client asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(d time.Duration) <-chan time.Time {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func newFlakyClient(t *testing.T, f *flaky, attempts int, base time.Duration) (*Client, *sleeps) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(testConn, WithBaseURL(srv.URL), WithRetry(attempts, base))
	if err != nil {
		t.Fatal(err)
	}
	s := &sleeps{}
	c.sleep = s.sleep
	return c, s
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	get := func(c *Client) error { _, err := c.GetDevice(ctx, "d"); return err }
	query := func(c *Client) error { _, err := c.Query(ctx, "SELECT * FROM devices", QueryOptions{}); return err }
	put := func(c *Client) error { _, err := c.CreateDevice(ctx, &Device{DeviceID: "d"}); return err }
	patch := func(c *Client) error { _, err := c.UpdateTwin(ctx, "d", []byte(`{}`), Unconditional()); return err }
	del := func(c *Client) error { return c.DeleteDevice(ctx, "d", Unconditional()) }
	condPatch := func(c *Client) error {
		_, err := c.UpdateTwin(ctx, "d", []byte(`{}`), IfMatch("AAAAAAAAAAE="))
		return err
	}
	condPut := func(c *Client) error {
		_, err := c.UpdateDevice(ctx, &Device{DeviceID: "d"}, IfMatch("MQ=="))
		return err
	}
	condDel := func(c *Client) error { return c.DeleteDevice(ctx, "d", IfMatch("MQ==")) }
	tests := []struct {
		name      string
		call      func(*Client) error
		body      string
		failures  int32
		fail      int
		header    map[string]string
		wantCalls int32
		wantErr   error // nil: success
		wantSleep []time.Duration
	}{
		{"GET recovers from 503", get, "{}", 2, 503, nil, 3, nil, nil},
		{"GET recovers from 429", get, "{}", 1, 429, nil, 2, nil, nil},
		{"GET recovers from dropped connections", get, "{}", 2, 0, nil, 3, nil, nil},
		{"query POST recovers from 503", query, "[]", 2, 503, nil, 3, nil, nil},
		{"GET gives up after max attempts", get, "{}", 10, 503, nil, 4, ErrServer, nil},
		{"GET honours Retry-After", get, "{}", 1, 429, map[string]string{"Retry-After": "2"}, 2, nil, []time.Duration{2 * time.Second}},
		{"GET does not wait past the cap", get, "{}", 1, 429, map[string]string{"Retry-After": "60"}, 1, ErrThrottled, []time.Duration{}},
		{"GET does not retry 404", get, "{}", 1, 404, nil, 1, ErrNotFound, nil},
		{"GET does not retry 500", get, "{}", 1, 500, nil, 1, ErrServer, nil},
		{"PUT not retried on 503", put, "{}", 1, 503, nil, 1, ErrServer, nil},
		{"PUT not retried on 429", put, "{}", 1, 429, nil, 1, ErrThrottled, nil},
		{"PATCH not retried on 503", patch, "{}", 1, 503, nil, 1, ErrServer, nil},
		{"DELETE not retried on 503", del, "{}", 1, 503, nil, 1, ErrServer, nil},
		{"PUT not retried on dropped connection", put, "{}", 1, 0, nil, 1, nil, nil},
		{"If-Match PATCH recovers from 503", condPatch, "{}", 2, 503, nil, 3, nil, nil},
		{"If-Match PATCH recovers from 429", condPatch, "{}", 1, 429, map[string]string{"Retry-After": "1"}, 2, nil, []time.Duration{time.Second}},
		{"If-Match PUT recovers from 429", condPut, "{}", 1, 429, nil, 2, nil, nil},
		{"If-Match DELETE recovers from 503", condDel, "{}", 1, 503, nil, 2, nil, nil},
		{"If-Match PATCH gives up after max attempts", condPatch, "{}", 10, 503, nil, 4, ErrServer, nil},
		{"If-Match PATCH not retried on 500", condPatch, "{}", 1, 500, nil, 1, ErrServer, nil},
		{"If-Match PATCH not retried on 412", condPatch, "{}", 1, 412, nil, 1, ErrPreconditionFailed, nil},
		{"If-Match PATCH not retried on dropped connection", condPatch, "{}", 1, 0, nil, 1, nil, nil},
		{"If-Match PUT not retried on dropped connection", condPut, "{}", 1, 0, nil, 1, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{failures: tt.failures, fail: tt.fail, header: tt.header, body: tt.body}
			c, s := newFlakyClient(t, f, 4, time.Millisecond)
			err := tt.call(c)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && tt.failures < tt.wantCalls && err != nil:
				t.Errorf("err = %v, want success", err)
			case tt.wantErr == nil && tt.failures >= tt.wantCalls && err == nil:
				t.Error("succeeded, want a transport error")
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if tt.wantSleep != nil {
				if len(s.ds) != len(tt.wantSleep) {
					t.Fatalf("slept %v, want %v", s.ds, tt.wantSleep)
				}
				for i := range s.ds {
					if s.ds[i] != tt.wantSleep[i] {
						t.Errorf("slept %v, want %v", s.ds, tt.wantSleep)
					}
				}
			}
		})
	}
}

func TestRetryBackoffGrows(t *testing.T) {
	f := &flaky{failures: 10, fail: 503, body: "{}"}
	c, s := newFlakyClient(t, f, 5, 100*time.Millisecond)
	if _, err := c.GetDevice(context.Background(), "d"); !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v", err)
	}
	if len(s.ds) != 4 {
		t.Fatalf("slept %v, want 4 waits", s.ds)
	}
	for i, d := range s.ds {
		full := 100 * time.Millisecond << i
		if d < full/2 || d >= full {
			t.Errorf("wait %d = %v, want in [%v, %v)", i, d, full/2, full)
		}
	}
}

func TestRetryRespectsContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		f := &flaky{failures: 10, fail: 503, body: "{}"}
		c, _ := newFlakyClient(t, f, 4, time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		c.sleep = func(time.Duration) <-chan time.Time { cancel(); return nil }
		_, err := c.GetDevice(ctx, "d")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrServer) {
			t.Errorf("err = %v, want context.Canceled wrapping the 503", err)
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("%d calls, want 1", got)
		}
	})
	t.Run("deadline shorter than the wait", func(t *testing.T) {
		f := &flaky{failures: 10, fail: 429, header: map[string]string{"Retry-After": "5"}, body: "{}"}
		c, s := newFlakyClient(t, f, 4, time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := c.GetDevice(ctx, "d"); !errors.Is(err, ErrThrottled) {
			t.Errorf("err = %v, want ErrThrottled", err)
		}
		if len(s.ds) != 0 {
			t.Errorf("slept %v, want no wait", s.ds)
		}
	})
}

func TestUntrustedCertificateNotRetried(t *testing.T) {
	f := &flaky{body: "{}"}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	c, err := New(testConn, WithBaseURL(srv.URL), WithRetry(4, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDevice(context.Background(), "d"); err == nil {
		t.Fatal("succeeded with an untrusted certificate")
	}
	if got := f.calls.Load(); got != 0 {
		t.Errorf("%d requests reached the handler", got)
	}
	s := &sleeps{}
	c.sleep = s.sleep
	c.GetDevice(context.Background(), "d")
	if len(s.ds) != 0 {
		t.Errorf("retried a certificate error after waits %v", s.ds)
	}
}
