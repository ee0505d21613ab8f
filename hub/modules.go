package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// CreateModule registers a new module identity on an existing device: PUT
// /devices/{deviceId}/modules/{moduleId} without If-Match. A taken id gives
// 409 (ErrAlreadyExists), a missing device ErrDeviceNotFound, a device
// with 50 modules ErrTooLarge.
func (c *Client) CreateModule(ctx context.Context, m *Module) (*Module, error) {
	return c.putModule(ctx, "CreateModule", m, nil)
}

// UpdateModule replaces the mutable fields of a module identity
// (authentication, managedBy): PUT /devices/{deviceId}/modules/{moduleId}
// with If-Match from cond.
func (c *Client) UpdateModule(ctx context.Context, m *Module, cond Condition) (*Module, error) {
	return c.putModule(ctx, "UpdateModule", m, &cond)
}

func (c *Client) putModule(ctx context.Context, op string, m *Module, cond *Condition) (*Module, error) {
	if m == nil {
		return nil, fmt.Errorf("hub: %s: nil module", op)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("hub: %s: %w", op, err)
	}
	var out Module
	hdr, err := c.do(ctx, request{op: op, method: http.MethodPut, path: []string{"devices", m.DeviceID, "modules", m.ModuleID}, body: body, cond: cond}, &out)
	if err != nil {
		return nil, err
	}
	if out.ETag == "" {
		out.ETag = unquoteETag(hdr.Get("ETag"))
	}
	return &out, nil
}

// GetModule returns a module identity: GET
// /devices/{deviceId}/modules/{moduleId}. A missing module gives
// ErrModuleNotFound, a missing device ErrDeviceNotFound.
func (c *Client) GetModule(ctx context.Context, deviceID, moduleID string) (*Module, error) {
	var out Module
	if _, err := c.do(ctx, request{op: "GetModule", method: http.MethodGet, path: []string{"devices", deviceID, "modules", moduleID}, read: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListModules returns the module identities of a device: GET
// /devices/{deviceId}/modules.
func (c *Client) ListModules(ctx context.Context, deviceID string) ([]Module, error) {
	var out []Module
	if _, err := c.do(ctx, request{op: "ListModules", method: http.MethodGet, path: []string{"devices", deviceID, "modules"}, read: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteModule deletes a module identity and its twin: DELETE
// /devices/{deviceId}/modules/{moduleId} with If-Match from cond.
func (c *Client) DeleteModule(ctx context.Context, deviceID, moduleID string, cond Condition) error {
	_, err := c.do(ctx, request{op: "DeleteModule", method: http.MethodDelete, path: []string{"devices", deviceID, "modules", moduleID}, cond: &cond}, nil)
	return err
}
