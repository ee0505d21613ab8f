package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// CreateDevice registers a new device identity: PUT /devices/{id} without
// If-Match. If the id is taken the hub answers 409 (ErrAlreadyExists). The
// returned Device is what the hub stored, with its etag and generated keys.
func (c *Client) CreateDevice(ctx context.Context, d *Device) (*Device, error) {
	return c.putDevice(ctx, "CreateDevice", d, nil)
}

// UpdateDevice replaces the mutable fields of an existing device identity
// (status, statusReason, authentication, capabilities, deviceScope): PUT
// /devices/{id} with If-Match from cond. A stale etag gives
// ErrPreconditionFailed; a missing device ErrDeviceNotFound.
func (c *Client) UpdateDevice(ctx context.Context, d *Device, cond Condition) (*Device, error) {
	return c.putDevice(ctx, "UpdateDevice", d, &cond)
}

func (c *Client) putDevice(ctx context.Context, op string, d *Device, cond *Condition) (*Device, error) {
	if d == nil {
		return nil, fmt.Errorf("hub: %s: nil device", op)
	}
	body, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", op, err)
	}
	var out Device
	hdr, err := c.do(ctx, request{op: op, method: http.MethodPut, path: []string{"devices", d.DeviceID}, body: body, cond: cond}, &out)
	if err != nil {
		return nil, err
	}
	if out.ETag == "" {
		out.ETag = unquoteETag(hdr.Get("ETag"))
	}
	return &out, nil
}

// GetDevice returns a device identity: GET /devices/{id}.
func (c *Client) GetDevice(ctx context.Context, id string) (*Device, error) {
	var out Device
	if _, err := c.do(ctx, request{op: "GetDevice", method: http.MethodGet, path: []string{"devices", id}, read: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDevice deletes a device identity with its modules and twins:
// DELETE /devices/{id} with If-Match from cond.
func (c *Client) DeleteDevice(ctx context.Context, id string, cond Condition) error {
	_, err := c.do(ctx, request{op: "DeleteDevice", method: http.MethodDelete, path: []string{"devices", id}, cond: &cond}, nil)
	return err
}

// ListDevices returns up to top device identities: GET /devices?top=N. The
// hub treats top outside 1..1000 as 1000; top 0 leaves it to the hub.
// Use Query for more devices or for paging.
func (c *Client) ListDevices(ctx context.Context, top int) ([]Device, error) {
	if top < 0 {
		return nil, errors.New("hub: ListDevices: negative top")
	}
	q := url.Values{}
	if top > 0 {
		q.Set("top", strconv.Itoa(top))
	}
	var out []Device
	if _, err := c.do(ctx, request{op: "ListDevices", method: http.MethodGet, path: []string{"devices"}, query: q, read: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
