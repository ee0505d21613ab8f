package hub

import (
	"context"
	"net/http"
)

// Statistics returns the registry's device counts: GET /statistics/devices.
func (c *Client) Statistics(ctx context.Context) (*Statistics, error) {
	var out Statistics
	if _, err := c.do(ctx, request{op: "Statistics", method: http.MethodGet, path: []string{"statistics", "devices"}, read: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
