package handlers

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/storage"
	"github.com/hubdesk/hubdesk/twinedit"
	"github.com/hubdesk/hubdesk/views"
)

// roleOverwrite may overwrite changes made underneath an edit.
const roleOverwrite = storage.RoleAdmin

// twinFacts is the read-only header of a twin page.
func twinFacts(tw *hub.Twin) views.TwinFacts {
	f := views.TwinFacts{
		ETag:            tw.ETag,
		DeviceETag:      tw.DeviceETag,
		Version:         tw.Version,
		DesiredVersion:  sectionVersion(tw.Properties.Desired),
		ReportedVersion: sectionVersion(tw.Properties.Reported),
		Status:          string(tw.Status),
		StatusReason:    tw.StatusReason,
		ConnectionState: string(tw.ConnectionState),
		AuthType:        string(tw.AuthenticationType),
		ModelID:         tw.ModelID,
		Edge:            tw.Capabilities != nil && tw.Capabilities.IoTEdge,
		DeviceScope:     tw.DeviceScope,
	}
	if !tw.LastActivityTime.IsZero() {
		f.LastActivity = tw.LastActivityTime.UTC().Format(time.RFC3339)
	}
	return f
}

// sectionVersion is the $version the hub keeps in a properties section.
func sectionVersion(section json.RawMessage) int64 {
	var v struct {
		Version int64 `json:"$version"`
	}
	if len(section) == 0 || json.Unmarshal(section, &v) != nil {
		return 0
	}
	return v.Version
}

// compare lines up desired and reported properties leaf by leaf, with how
// long ago the device reported each value (from reported $metadata).
func compare(now time.Time, desired, reported json.RawMessage) []views.Compared {
	dm, rm := decodeObject(desired), decodeObject(reported)
	d, r := leaves(dm), leaves(rm)
	meta, _ := rm["$metadata"].(map[string]any)
	paths := make([]string, 0, len(d)+len(r))
	for p := range d {
		paths = append(paths, p)
	}
	for p := range r {
		if _, ok := d[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	out := make([]views.Compared, 0, len(paths))
	for _, p := range paths {
		dv, inD := d[p]
		rv, inR := r[p]
		row := views.Compared{Path: p, Desired: dv, Reported: rv, Differs: inD && (!inR || dv != rv)}
		if inR {
			if t, ok := lastUpdated(meta, p); ok {
				row.ReportedAgo = ago(now, hub.Time{Time: t})
			}
		}
		out = append(out, row)
	}
	return out
}

// decodeObject decodes a JSON object keeping numbers as written; nil if it
// is not one.
func decodeObject(section json.RawMessage) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(section))
	dec.UseNumber()
	if len(section) == 0 || dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// leaves flattens a properties section to paths and compact JSON values;
// arrays and empty objects are leaves. $metadata and $version are left out.
func leaves(root map[string]any) map[string]string {
	out := make(map[string]string, len(root))
	eachLeaf(root, func(p twinedit.Path, v any) {
		if strings.HasPrefix(p[0], "$") {
			return
		}
		if text, err := jsonText(v); err == nil {
			out[p.String()] = text
		}
	})
	return out
}

// jsonText is v as compact JSON with <, > and & left as they are: pages
// escape HTML themselves, and "\u003c" would show a person the escape
// rather than the text that was written.
func jsonText(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// eachLeaf calls fn with every value under root that is not a non-empty
// object, and its path.
func eachLeaf(root map[string]any, fn func(p twinedit.Path, v any)) {
	var walk func(p twinedit.Path, m map[string]any)
	walk = func(p twinedit.Path, m map[string]any) {
		for k, v := range m {
			kp := append(p[:len(p):len(p)], k)
			if obj, ok := v.(map[string]any); ok && len(obj) > 0 {
				walk(kp, obj)
				continue
			}
			fn(kp, v)
		}
	}
	walk(nil, root)
}

// lastUpdated finds the $lastUpdated of path in a $metadata tree: the
// nearest one at or above the path, as the hub stamps arrays and values
// whole.
func lastUpdated(meta map[string]any, path string) (time.Time, bool) {
	var found string
	node := meta
	for _, seg := range strings.Split(path, ".") {
		next, ok := node[seg].(map[string]any)
		if !ok {
			break
		}
		node = next
		if s, ok := node["$lastUpdated"].(string); ok {
			found = s
		}
	}
	if found == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, found)
	return t, err == nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
