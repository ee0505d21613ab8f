package hub

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client calls the IoT Hub service REST API. It is safe for concurrent use.
type Client struct {
	conn       ConnectionString
	base       *url.URL
	httpClient *http.Client
	userAgent  string
	tokenTTL   time.Duration
	retry      retryPolicy
	now        func() time.Time
	sleep      func(time.Duration) <-chan time.Time

	observe func(Call)

	mu          sync.Mutex
	token       string
	tokenExpiry time.Time
}

// Option configures a Client.
type Option func(*Client) error

// Defaults for New.
const (
	DefaultTokenTTL    = time.Hour
	DefaultMaxAttempts = 4
	DefaultRetryBase   = 250 * time.Millisecond
	defaultUserAgent   = "hubdesk-hub/1"
)

// New returns a client for the hub named by connectionString, which is
// parsed with ParseConnectionString. By default it talks to
// https://{HostName}; WithBaseURL points it elsewhere (an emulator).
func New(connectionString string, opts ...Option) (*Client, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	c := &Client{
		conn:       cs,
		httpClient: &http.Client{Timeout: 60 * time.Second},
		userAgent:  defaultUserAgent,
		tokenTTL:   DefaultTokenTTL,
		retry:      retryPolicy{maxAttempts: DefaultMaxAttempts, base: DefaultRetryBase, maxDelay: defaultMaxRetryDelay},
		now:        time.Now,
		sleep:      time.After,
	}
	if err := WithBaseURL("https://" + cs.HostName)(c); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithBaseURL sends requests to u, such as "http://127.0.0.1:8081" for the
// emulator, instead of https://{HostName}. Tokens are still signed for
// HostName. A path in u is kept as a prefix.
func WithBaseURL(u string) Option {
	return func(c *Client) error {
		base, err := url.Parse(strings.TrimRight(u, "/"))
		if err != nil {
			return fmt.Errorf("hub: base URL: %w", err)
		}
		if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
			return fmt.Errorf("hub: base URL %q: want http(s)://host[:port]", u)
		}
		if base.RawQuery != "" || base.Fragment != "" {
			return fmt.Errorf("hub: base URL %q: must not have a query or fragment", u)
		}
		c.base = base
		return nil
	}
}

// WithHTTPClient makes the client send requests with hc (timeouts,
// transport, proxies). The default has a 60 second timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("hub: nil http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTokenTTL sets how long the SAS tokens the client signs are valid.
// Tokens are cached and renewed when less than a quarter of ttl remains.
// The default is DefaultTokenTTL.
func WithTokenTTL(ttl time.Duration) Option {
	return func(c *Client) error {
		if ttl < time.Minute {
			return fmt.Errorf("hub: token TTL %v is shorter than a minute", ttl)
		}
		c.tokenTTL = ttl
		return nil
	}
}

// WithRetry sets how reads (GET and queries) are retried on throttling
// (429), unavailability (503) and connection errors: at most maxAttempts
// attempts in all, waiting about base, 2*base, 4*base, ... with jitter, or
// what the hub's Retry-After asks. A Retry-After longer than 10 seconds, or
// than the context's deadline allows, ends the call with the hub's error
// (its RetryAfter says when to come back) instead of waiting. maxAttempts 1
// disables retries. Writes conditional on an etag (IfMatch) are retried on
// 429 and 503 only, which the hub sends before applying anything; other
// writes never are, and no write that got no answer is: it may have been
// applied. The default is DefaultMaxAttempts and
// DefaultRetryBase.
func WithRetry(maxAttempts int, base time.Duration) Option {
	return func(c *Client) error {
		if maxAttempts < 1 || base < 0 {
			return fmt.Errorf("hub: retry: want maxAttempts >= 1 and base >= 0, got %d and %v", maxAttempts, base)
		}
		c.retry.maxAttempts = maxAttempts
		c.retry.base = base
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// Call describes one finished client operation, for metrics.
type Call struct {
	// Op is the Client method, such as "GetModuleTwin".
	Op string
	// Duration covers every attempt and the waits between them.
	Duration time.Duration
	// Attempts is how many requests were sent.
	Attempts int
	// Err is the operation's error, nil on success.
	Err error
}

// WithObserver calls observe after every operation, from the calling
// goroutine; it must be quick and safe for concurrent use.
func WithObserver(observe func(Call)) Option {
	return func(c *Client) error {
		c.observe = observe
		return nil
	}
}

// HostName is the hub's host name from the connection string.
func (c *Client) HostName() string { return c.conn.HostName }

// authorization returns the Authorization header value: the connection
// string's own signature, or a cached token signed with its key, renewed
// when less than a quarter of its lifetime remains.
func (c *Client) authorization() (string, error) {
	if c.conn.SharedAccessSignature != "" {
		return c.conn.SharedAccessSignature, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.token != "" && now.Add(c.tokenTTL/4).Before(c.tokenExpiry) {
		return c.token, nil
	}
	expiry := now.Add(c.tokenTTL)
	token, err := SignSAS(c.conn.HostName, c.conn.SharedAccessKeyName, c.conn.SharedAccessKey, expiry)
	if err != nil {
		return "", err
	}
	c.token, c.tokenExpiry = token, expiry
	return token, nil
}
