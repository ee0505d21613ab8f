package storage

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
)

// auditCSVHeader names the columns of WriteAuditCSV. Columns added later go
// at the end, so scripts reading older exports by position keep working.
var auditCSVHeader = []string{"id", "at", "actor", "action", "device_id", "module_id", "section",
	"etag_before", "etag_after", "sent", "before", "after", "reason", "outcome", "detail", "request_id", "account"}

// WriteAuditCSV writes entries to w as CSV with a header row, as they come.
// It stops at the first error, from entries or from w. A cell that a
// spreadsheet would run as a formula (starting with = + - @ tab or CR) is
// written with a leading ' so opening an export runs nothing a user typed.
func WriteAuditCSV(w io.Writer, entries iter.Seq2[AuditEntry, error]) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(auditCSVHeader); err != nil {
		return fmt.Errorf("write audit csv: %w", err)
	}
	record := make([]string, len(auditCSVHeader))
	for e, err := range entries {
		if err != nil {
			return err
		}
		fields := []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor,
			string(e.Action), e.DeviceID, e.ModuleID, e.Section, e.ETagBefore, e.ETagAfter, e.Sent,
			e.Before, e.After, e.Reason, string(e.Outcome), e.Detail, e.RequestID, e.Account}
		for i, f := range fields {
			record[i] = defuseFormula(f)
		}
		if err := cw.Write(record); err != nil {
			return fmt.Errorf("write audit csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write audit csv: %w", err)
	}
	return nil
}

func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// auditJSON is an entry as exported; Sent, Before and After are embedded as
// JSON values (a string when not valid JSON, null when empty).
type auditJSON struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     AuditAction     `json:"action"`
	DeviceID   string          `json:"device_id,omitempty"`
	ModuleID   string          `json:"module_id,omitempty"`
	Account    string          `json:"account,omitempty"`
	Section    string          `json:"section,omitempty"`
	ETagBefore string          `json:"etag_before,omitempty"`
	ETagAfter  string          `json:"etag_after,omitempty"`
	Sent       json.RawMessage `json:"sent"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	Reason     string          `json:"reason,omitempty"`
	Outcome    AuditOutcome    `json:"outcome"`
	Detail     string          `json:"detail,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// WriteAuditJSON writes entries to w as a JSON array, one entry a line, as
// they come. It stops at the first error, from entries or from w; the array
// is then left unterminated, so a cut-off export does not parse.
func WriteAuditJSON(w io.Writer, entries iter.Seq2[AuditEntry, error]) error {
	bw := bufio.NewWriter(w)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	sep := "[\n"
	for e, err := range entries {
		if err != nil {
			return err
		}
		buf.Reset()
		err := enc.Encode(auditJSON{
			ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, DeviceID: e.DeviceID,
			ModuleID: e.ModuleID, Account: e.Account, Section: e.Section, ETagBefore: e.ETagBefore, ETagAfter: e.ETagAfter,
			Sent: rawJSON(e.Sent), Before: rawJSON(e.Before), After: rawJSON(e.After), Reason: e.Reason,
			Outcome: e.Outcome, Detail: e.Detail, RequestID: e.RequestID,
		})
		if err != nil {
			return fmt.Errorf("write audit json: %w", err)
		}
		bw.WriteString(sep)
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		sep = ",\n"
	}
	if sep == "[\n" {
		bw.WriteString("[]\n")
	} else {
		bw.WriteString("\n]\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write audit json: %w", err)
	}
	return nil
}

func rawJSON(s string) json.RawMessage {
	switch {
	case s == "":
		return json.RawMessage("null")
	case json.Valid([]byte(s)):
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}
