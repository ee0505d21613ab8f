package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// response is what a handler returns; writeResponse turns it into HTTP.
type response struct {
	status int
	body   any // marshalled as JSON; nil with 204 writes nothing
	etag   string
	header http.Header
}

func ok(body any) response { return response{status: http.StatusOK, body: body} }

// apiError is an error the hub reports to the caller in its own envelope.
type apiError struct {
	status     int
	code       string
	text       string
	retryAfter time.Duration
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.text) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, text: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, hub.CodeArgumentInvalid, format, args...)
}

func formatError(err error) *apiError {
	return errorf(http.StatusBadRequest, hub.CodeIotHubFormatError, "Invalid JSON: %v", err)
}

func deviceNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, hub.CodeDeviceNotFound, "%s", id)
}

func moduleNotFound(id, mid string) *apiError {
	return errorf(http.StatusNotFound, hub.CodeModuleNotFound, "Module %s on device %s not found.", mid, id)
}

func preconditionFailed(kind, have, want string) *apiError {
	return errorf(http.StatusPreconditionFailed, hub.CodePreconditionFailed,
		"Precondition failed: %s version did not match, existingVersion:%s newVersion:%s", kind, have, want)
}

func unauthorized() *apiError {
	return errorf(http.StatusUnauthorized, hub.CodeUnauthorized, "Unauthorized")
}

func tooLarge(limit int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, hub.CodeMessageTooLarge,
		"Message body exceeds the maximum of %d bytes.", limit)
}

// errorEnvelope is the body of every error response.
type errorEnvelope struct {
	Message          string `json:"Message"`
	ExceptionMessage string `json:"ExceptionMessage"`
}

// writeResponse writes res, or err in the hub's error shape. Errors that are
// not *apiError become 500 ServerError and are logged; their text never
// reaches the caller.
func (e *Emulator) writeResponse(w http.ResponseWriter, r *http.Request, res response, err error) {
	if err != nil {
		e.writeError(w, r, err)
		return
	}
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	if res.etag != "" {
		h.Set("ETag", `"`+res.etag+`"`)
	}
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	body, err := marshal(res.body)
	if err != nil {
		e.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(body)
}

// marshal encodes v as the hub does: <, > and & stay as they are (the
// hub's serializer does not escape them for HTML, and encoding/json would
// turn a stored "<b>" into "\u003cb\u003e" on the way out).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (e *Emulator) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		e.log.Error("emulator: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, hub.CodeServerError, "Internal server error.")
	} else {
		e.log.Debug("emulator: request rejected", "method", r.Method, "path", r.URL.Path,
			"status", ae.status, "code", ae.code, "text", ae.text)
	}
	env := errorEnvelope{
		Message: "ErrorCode:" + ae.code + ";" + ae.text,
		ExceptionMessage: "Tracking ID:" + trackingID() + "-G:0-TimeStamp:" +
			e.now().UTC().Format("01/02/2006 15:04:05"),
	}
	body, _ := marshal(env)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("iothub-errorcode", ae.code)
	if ae.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((ae.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(ae.status)
	_, _ = w.Write(body)
}

// trackingID is 32 random hex digits, as the hub puts in ExceptionMessage.
func trackingID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// discardLogger is used when Options.Logger is nil.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
