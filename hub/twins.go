package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// GetTwin returns a device twin: GET /twins/{id}.
func (c *Client) GetTwin(ctx context.Context, deviceID string) (*Twin, error) {
	return c.getTwin(ctx, "GetTwin", []string{"twins", deviceID})
}

// GetModuleTwin returns a module twin: GET /twins/{id}/modules/{mid}.
func (c *Client) GetModuleTwin(ctx context.Context, deviceID, moduleID string) (*Twin, error) {
	return c.getTwin(ctx, "GetModuleTwin", []string{"twins", deviceID, "modules", moduleID})
}

// UpdateTwin applies patch, an RFC 7386 merge patch of tags and
// properties.desired, to a device twin: PATCH /twins/{id} with If-Match
// from cond. The patch is sent byte for byte as given; the hub ignores
// everything but tags and desired. It returns the whole updated twin with
// its new etag. json.Marshal of a TwinPatch gives a suitable patch.
func (c *Client) UpdateTwin(ctx context.Context, deviceID string, patch []byte, cond Condition) (*Twin, error) {
	return c.writeTwin(ctx, "UpdateTwin", http.MethodPatch, []string{"twins", deviceID}, patch, cond)
}

// UpdateModuleTwin is UpdateTwin for a module twin: PATCH
// /twins/{id}/modules/{mid}.
func (c *Client) UpdateModuleTwin(ctx context.Context, deviceID, moduleID string, patch []byte, cond Condition) (*Twin, error) {
	return c.writeTwin(ctx, "UpdateModuleTwin", http.MethodPatch, []string{"twins", deviceID, "modules", moduleID}, patch, cond)
}

// ReplaceTwin replaces the tags and desired properties of a device twin
// wholesale with those in twin (a JSON twin document; other members are
// ignored by the hub): PUT /twins/{id} with If-Match from cond. Reported
// properties are untouched.
func (c *Client) ReplaceTwin(ctx context.Context, deviceID string, twin []byte, cond Condition) (*Twin, error) {
	return c.writeTwin(ctx, "ReplaceTwin", http.MethodPut, []string{"twins", deviceID}, twin, cond)
}

// ReplaceModuleTwin is ReplaceTwin for a module twin: PUT
// /twins/{id}/modules/{mid}.
func (c *Client) ReplaceModuleTwin(ctx context.Context, deviceID, moduleID string, twin []byte, cond Condition) (*Twin, error) {
	return c.writeTwin(ctx, "ReplaceModuleTwin", http.MethodPut, []string{"twins", deviceID, "modules", moduleID}, twin, cond)
}

func (c *Client) getTwin(ctx context.Context, op string, path []string) (*Twin, error) {
	var out Twin
	hdr, err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, read: true}, &out)
	if err != nil {
		return nil, err
	}
	if out.ETag == "" {
		out.ETag = unquoteETag(hdr.Get("ETag"))
	}
	return &out, nil
}

func (c *Client) writeTwin(ctx context.Context, op, method string, path []string, body []byte, cond Condition) (*Twin, error) {
	// Checked here so that a bad document is a clear local error rather
	// than the hub's IotHubFormatError.
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, fmt.Errorf("hub: %s: body is not a JSON object", op)
	}
	var out Twin
	hdr, err := c.do(ctx, request{op: op, method: method, path: path, body: body, cond: &cond}, &out)
	if err != nil {
		return nil, err
	}
	if out.ETag == "" {
		out.ETag = unquoteETag(hdr.Get("ETag"))
	}
	return &out, nil
}
