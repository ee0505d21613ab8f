package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits on what the client reads from a response.
const (
	maxResponseBytes = 64 << 20 // a query page of 1000 large twins fits
	maxErrorBytes    = 64 << 10
)

// request is one call to the hub, described before it is sent so that it
// can be sent again.
type request struct {
	op     string   // the Client method, for errors
	method string   // HTTP method
	path   []string // path segments, not yet escaped
	query  url.Values
	header http.Header
	body   []byte // JSON, nil for none
	// cond, if not nil, is sent as If-Match; a zero Condition is refused.
	cond *Condition
	// read marks idempotent requests (GET, queries) that may be retried.
	// Writes with If-Match of an etag are retried too, on refusals only:
	// see mayRetry.
	read bool
}

// do sends r, retrying as the client's policy and mayRetry allow, and decodes a
// successful JSON response into out (if not nil). It returns the response
// headers. Hub error responses are *Error; other failures wrap their cause.
func (c *Client) do(ctx context.Context, r request, out any) (http.Header, error) {
	if c.observe == nil {
		hdr, _, err := c.attempt(ctx, r, out)
		return hdr, err
	}
	start := c.now()
	hdr, attempts, err := c.attempt(ctx, r, out)
	c.observe(Call{Op: r.op, Duration: c.now().Sub(start), Attempts: attempts, Err: err})
	return hdr, err
}

// attempt is do without the observer; it also returns how many requests
// it sent.
func (c *Client) attempt(ctx context.Context, r request, out any) (http.Header, int, error) {
	if r.cond != nil {
		if _, err := r.cond.header(); err != nil {
			return nil, 0, fmt.Errorf("hub: %s: %w", r.op, err)
		}
	}
	for attempt := 1; ; attempt++ {
		hdr, err := c.send(ctx, r, out)
		if err == nil {
			return hdr, attempt, nil
		}
		if attempt >= c.retry.maxAttempts || !r.mayRetry(ctx, err) {
			return nil, attempt, err
		}
		d, ok := c.retry.delay(attempt, err)
		if !ok {
			return nil, attempt, err
		}
		if deadline, has := ctx.Deadline(); has && time.Until(deadline) < d {
			return nil, attempt, err
		}
		select {
		case <-ctx.Done():
			return nil, attempt, fmt.Errorf("hub: %s: %w (waiting to retry after: %w)", r.op, ctx.Err(), err)
		case <-c.sleep(d):
		}
	}
}

// send makes one attempt at r.
func (c *Client) send(ctx context.Context, r request, out any) (http.Header, error) {
	req, err := c.newHTTPRequest(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", r.op, err)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", r.op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		he := parseError(resp.StatusCode, resp.Header, body, c.now())
		he.Op = r.op
		return nil, he
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return resp.Header, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hub: %s: reading response: %w", r.op, err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("hub: %s: response larger than %d bytes", r.op, maxResponseBytes)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("hub: %s: decoding %d response: %w", r.op, resp.StatusCode, err)
	}
	return resp.Header, nil
}

// newHTTPRequest builds the HTTP request for r: escaped path under the base
// URL, api-version, SAS authorization, JSON body, If-Match.
func (c *Client) newHTTPRequest(ctx context.Context, r request) (*http.Request, error) {
	u := *c.base
	var raw, decoded strings.Builder
	raw.WriteString(c.base.EscapedPath())
	decoded.WriteString(c.base.Path)
	for _, seg := range r.path {
		if seg == "" {
			return nil, errors.New("empty id")
		}
		raw.WriteString("/" + url.PathEscape(seg))
		decoded.WriteString("/" + seg)
	}
	u.Path, u.RawPath = decoded.String(), raw.String()
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	q.Set("api-version", APIVersion)
	u.RawQuery = q.Encode()

	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	auth, err := c.authorization()
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if r.cond != nil {
		h, err := r.cond.header()
		if err != nil {
			return nil, err
		}
		req.Header.Set("If-Match", h)
	}
	return req, nil
}
