package storage

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func seqOf(entries []AuditEntry, err error) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
		if err != nil {
			yield(AuditEntry{}, err)
		}
	}
}

var exportEntries = []AuditEntry{
	{
		ID: 7, At: time.Date(2026, 3, 1, 9, 30, 0, 5000, time.UTC), Actor: "ed", Action: AuditTwinUpdate,
		DeviceID: "dev-1", ModuleID: "edge", Section: "desired", ETagBefore: `"AAA"`, ETagAfter: `"AAB"`,
		Sent: `{"properties":{"desired":{"fw":"2.0"}}}`, Before: `{"fw":"1.0"}`, After: `{"fw":"2.0"}`,
		Reason: "=HYPERLINK(\"http://evil\")", Outcome: AuditOK, RequestID: "r1",
	},
	{
		ID: 6, At: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Actor: "ann", Action: AuditDeviceDelete,
		DeviceID: "-dev", Sent: "not json, \"quoted\"\nsecond line", Outcome: AuditConflict, Detail: "precondition failed",
	},
	{
		ID: 5, At: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Actor: "root (cli)", Action: AuditAccountSetRole,
		Account: "vic", Section: "role", Before: `{"role":"viewer","disabled":false}`, After: `{"role":"admin","disabled":false}`,
		Outcome: AuditRefused, Detail: "this would leave no enabled admin account",
	},
}

func TestWriteAuditCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAuditCSV(&buf, seqOf(exportEntries, nil)); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 4 || !slices.Equal(records[0], auditCSVHeader) {
		t.Fatalf("records = %q", records)
	}
	col := func(row int, name string) string { return records[row][slices.Index(auditCSVHeader, name)] }
	tests := []struct {
		row       int
		col, want string
	}{
		{1, "id", "7"},
		{1, "at", "2026-03-01T09:30:00.000005Z"},
		{1, "sent", `{"properties":{"desired":{"fw":"2.0"}}}`},
		{1, "reason", `'=HYPERLINK("http://evil")`},
		{1, "outcome", "ok"},
		{2, "device_id", "'-dev"},
		{2, "sent", "not json, \"quoted\"\nsecond line"},
		{2, "module_id", ""},
		{2, "detail", "precondition failed"},
		{2, "account", ""},
		{3, "account", "vic"},
		{3, "action", "account.set-role"},
		{3, "before", `{"role":"viewer","disabled":false}`},
		{3, "outcome", "refused"},
	}
	for _, tt := range tests {
		if got := col(tt.row, tt.col); got != tt.want {
			t.Errorf("row %d %s = %q, want %q", tt.row, tt.col, got, tt.want)
		}
	}
}

func TestWriteAuditJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteAuditJSON(&buf, seqOf(exportEntries, nil)); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 5 {
		t.Errorf("%d lines, want one per entry and the brackets:\n%s", lines, buf.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	want := []map[string]any{
		{
			"id": 7.0, "at": "2026-03-01T09:30:00.000005Z", "actor": "ed", "action": "twin.update",
			"device_id": "dev-1", "module_id": "edge", "section": "desired", "etag_before": `"AAA"`, "etag_after": `"AAB"`,
			"sent":   map[string]any{"properties": map[string]any{"desired": map[string]any{"fw": "2.0"}}},
			"before": map[string]any{"fw": "1.0"}, "after": map[string]any{"fw": "2.0"},
			"reason": "=HYPERLINK(\"http://evil\")", "outcome": "ok", "request_id": "r1",
		},
		{
			"id": 6.0, "at": "2026-03-01T09:00:00Z", "actor": "ann", "action": "device.delete", "device_id": "-dev",
			"sent": "not json, \"quoted\"\nsecond line", "before": nil, "after": nil,
			"outcome": "conflict", "detail": "precondition failed",
		},
		{
			"id": 5.0, "at": "2026-03-01T08:00:00Z", "actor": "root (cli)", "action": "account.set-role", "account": "vic",
			"section": "role", "sent": nil, "before": map[string]any{"role": "viewer", "disabled": false},
			"after": map[string]any{"role": "admin", "disabled": false}, "outcome": "refused",
			"detail": "this would leave no enabled admin account",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestWriteAuditEmptyAndFailing(t *testing.T) {
	boom := errors.New("boom")
	writers := map[string]func(*bytes.Buffer, iter.Seq2[AuditEntry, error]) error{
		"csv":  func(b *bytes.Buffer, s iter.Seq2[AuditEntry, error]) error { return WriteAuditCSV(b, s) },
		"json": func(b *bytes.Buffer, s iter.Seq2[AuditEntry, error]) error { return WriteAuditJSON(b, s) },
	}
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := write(&buf, seqOf(exportEntries, boom)); !errors.Is(err, boom) {
				t.Errorf("err = %v, want the source's error", err)
			}
			buf.Reset()
			if err := write(&buf, seqOf(nil, nil)); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"csv": strings.Join(auditCSVHeader, ",") + "\n", "json": "[]\n"}[name]
			if buf.String() != want {
				t.Errorf("empty export = %q, want %q", buf.String(), want)
			}
		})
	}
}
