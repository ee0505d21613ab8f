package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// QueryOptions control one page of a query.
type QueryOptions struct {
	// PageSize is the most items the page may hold (x-ms-max-item-count);
	// 0 leaves it to the hub.
	PageSize int
	// Continuation is the token from the previous page's Continuation, ""
	// for the first page.
	Continuation string
}

// QueryPage is one page of query results.
type QueryPage struct {
	// Items are the results as the hub sent them: twins when ItemType is
	// "Twin", projections or aggregates when it is "Raw".
	Items []json.RawMessage
	// ItemType is the hub's x-ms-item-type: "Twin" or "Raw".
	ItemType string
	// Continuation fetches the next page; "" when this is the last.
	Continuation string
}

// Twins decodes the page's items as twins.
func (p *QueryPage) Twins() ([]Twin, error) {
	twins := make([]Twin, len(p.Items))
	for i, item := range p.Items {
		if err := json.Unmarshal(item, &twins[i]); err != nil {
			return nil, fmt.Errorf("hub: query item %d is not a twin (item type %q): %w", i, p.ItemType, err)
		}
	}
	return twins, nil
}

// Query runs an IoT Hub query such as "SELECT * FROM devices WHERE
// tags.site = 'x'" and returns one page: POST /devices/query with
// x-ms-max-item-count and x-ms-continuation. Queries are reads and are
// retried like GETs.
func (c *Client) Query(ctx context.Context, q string, opts QueryOptions) (*QueryPage, error) {
	if q == "" {
		return nil, errors.New("hub: Query: empty query")
	}
	if opts.PageSize < 0 {
		return nil, errors.New("hub: Query: negative page size")
	}
	body, err := json.Marshal(struct {
		Query string `json:"query"`
	}{q})
	if err != nil {
		return nil, fmt.Errorf("hub: Query: %w", err)
	}
	header := http.Header{}
	if opts.PageSize > 0 {
		header.Set("x-ms-max-item-count", strconv.Itoa(opts.PageSize))
	}
	if opts.Continuation != "" {
		header.Set("x-ms-continuation", opts.Continuation)
	}
	var items []json.RawMessage
	hdr, err := c.do(ctx, request{op: "Query", method: http.MethodPost, path: []string{"devices", "query"}, header: header, body: body, read: true}, &items)
	if err != nil {
		return nil, err
	}
	return &QueryPage{Items: items, ItemType: hdr.Get("x-ms-item-type"), Continuation: hdr.Get("x-ms-continuation")}, nil
}

// QueryTwins runs a twin query (SELECT * FROM devices [WHERE ...] or
// devices.modules) and yields every twin, following continuations page by
// page. After an error it yields that error once and stops.
func (c *Client) QueryTwins(ctx context.Context, q string, pageSize int) iter.Seq2[Twin, error] {
	return func(yield func(Twin, error) bool) {
		opts := QueryOptions{PageSize: pageSize}
		for {
			page, err := c.Query(ctx, q, opts)
			if err != nil {
				yield(Twin{}, err)
				return
			}
			if page.ItemType != "" && page.ItemType != "Twin" {
				yield(Twin{}, fmt.Errorf("hub: QueryTwins: the query returns %s items, not twins (a projection or aggregate): use Query", page.ItemType))
				return
			}
			twins, err := page.Twins()
			if err != nil {
				yield(Twin{}, err)
				return
			}
			for _, t := range twins {
				if !yield(t, nil) {
					return
				}
			}
			if page.Continuation == "" {
				return
			}
			if page.Continuation == opts.Continuation {
				yield(Twin{}, errors.New("hub: QueryTwins: the hub returned the same continuation token twice"))
				return
			}
			opts.Continuation = page.Continuation
		}
	}
}
