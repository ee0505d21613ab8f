package hub

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes the hub sends in the iothub-errorcode header and in
// "ErrorCode:{Name};{text}" messages.
const (
	CodeArgumentInvalid            = "ArgumentInvalid"
	CodeIotHubFormatError          = "IotHubFormatError"
	CodeInvalidProtocolVersion     = "InvalidProtocolVersion"
	CodeUnauthorized               = "IotHubUnauthorizedAccess"
	CodeForbidden                  = "Forbidden"
	CodeDeviceNotFound             = "DeviceNotFound"
	CodeModuleNotFound             = "ModuleNotFound"
	CodeDeviceAlreadyExists        = "DeviceAlreadyExists"
	CodeModuleAlreadyExists        = "ModuleAlreadyExistsOnDevice"
	CodePreconditionFailed         = "PreconditionFailed"
	CodeTooManyModulesOnDevice     = "TooManyModulesOnDevice"
	CodeMessageTooLarge            = "MessageTooLarge"
	CodeThrottlingException        = "ThrottlingException"
	CodeServerError                = "ServerError"
	CodeServiceUnavailable         = "ServiceUnavailable"
	CodeIotHubQuotaExceeded        = "IotHubQuotaExceeded"
	CodeDeviceMaximumQueueDepth    = "DeviceMaximumQueueDepthExceeded"
	CodeSystemModuleModifyDisallow = "SystemModuleModifyUnauthorizedAccess"
)

// Sentinel errors matched by *Error with errors.Is. ErrDeviceNotFound and
// ErrModuleNotFound also match ErrNotFound.
var (
	ErrNotFound           = errors.New("hub: not found")
	ErrDeviceNotFound     = errors.New("hub: device not found")
	ErrModuleNotFound     = errors.New("hub: module not found")
	ErrAlreadyExists      = errors.New("hub: already exists")
	ErrPreconditionFailed = errors.New("hub: precondition failed (etag mismatch)")
	ErrUnauthorized       = errors.New("hub: unauthorized")
	ErrForbidden          = errors.New("hub: forbidden")
	ErrThrottled          = errors.New("hub: throttled")
	ErrBadRequest         = errors.New("hub: bad request")
	ErrTooLarge           = errors.New("hub: too large")
	ErrServer             = errors.New("hub: server error")

	// ErrNoCondition is returned, without sending anything, for a conditional
	// write given a zero Condition or an empty etag.
	ErrNoCondition = errors.New("hub: conditional write without an etag (use IfMatch(etag) or Unconditional())")
)

// Error is an error response from the hub.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the hub's error name, such as "DeviceNotFound".
	Code string
	// Message is the hub's explanation, without the "ErrorCode:" prefix.
	Message string
	// TrackingID identifies the request in the hub's logs, if it said.
	TrackingID string
	// RetryAfter is how long the hub asked to wait (429, 503), if it said.
	RetryAfter time.Duration
	// Op and Path say which call failed, for example "GetModuleTwin".
	Op string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Op != "" {
		return fmt.Sprintf("hub: %s: %d %s: %s", e.Op, e.StatusCode, e.Code, msg)
	}
	return fmt.Sprintf("hub: %d %s: %s", e.StatusCode, e.Code, msg)
}

// Is matches the sentinel errors of this package.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrDeviceNotFound:
		return e.StatusCode == http.StatusNotFound && e.Code != CodeModuleNotFound
	case ErrModuleNotFound:
		return e.StatusCode == http.StatusNotFound && e.Code == CodeModuleNotFound
	case ErrAlreadyExists:
		return e.StatusCode == http.StatusConflict
	case ErrPreconditionFailed:
		return e.StatusCode == http.StatusPreconditionFailed
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrTooLarge:
		return e.StatusCode == http.StatusRequestEntityTooLarge
	case ErrServer:
		return e.StatusCode >= 500
	}
	return false
}

// Temporary reports whether the same request may succeed later (429, 503,
// and other 5xx answers).
func (e *Error) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}
