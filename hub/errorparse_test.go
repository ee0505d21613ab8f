package hub

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseError(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   Error
		is     error
	}{
		{
			name:   "hub envelope with header",
			status: 404,
			header: map[string]string{"iothub-errorcode": "DeviceNotFound"},
			body:   `{"Message":"ErrorCode:DeviceNotFound;d1","ExceptionMessage":"Tracking ID:0123456789abcdef0123456789abcdef-G:0-TimeStamp:01/02/2026 03:04:05"}`,
			want:   Error{StatusCode: 404, Code: "DeviceNotFound", Message: "d1", TrackingID: "0123456789abcdef0123456789abcdef-G:0"},
			is:     ErrDeviceNotFound,
		},
		{
			name:   "code from message when no header",
			status: 404,
			body:   `{"Message":"ErrorCode:ModuleNotFound;Module m1 on device d1 not found","ExceptionMessage":""}`,
			want:   Error{StatusCode: 404, Code: "ModuleNotFound", Message: "Module m1 on device d1 not found"},
			is:     ErrModuleNotFound,
		},
		{
			name:   "header wins over message",
			status: 412,
			header: map[string]string{"iothub-errorcode": "PreconditionFailed"},
			body:   `{"Message":"ErrorCode:Other;Precondition failed: Device version did not match, existingVersion:3 newVersion:2"}`,
			want:   Error{StatusCode: 412, Code: "PreconditionFailed", Message: "Precondition failed: Device version did not match, existingVersion:3 newVersion:2"},
			is:     ErrPreconditionFailed,
		},
		{
			name:   "message text may contain semicolons",
			status: 400,
			body:   `{"Message":"ErrorCode:ArgumentInvalid;a;b;c"}`,
			want:   Error{StatusCode: 400, Code: "ArgumentInvalid", Message: "a;b;c"},
			is:     ErrBadRequest,
		},
		{
			name:   "escaped inner JSON with numeric code",
			status: 409,
			body:   `{"Message":"{\"errorCode\":409001,\"trackingId\":\"abc-G:10-TimeStamp:x\",\"message\":\"A device with ID 'd1' is already registered.\",\"timestampUtc\":\"2026-01-02T03:04:05Z\"}","ExceptionMessage":""}`,
			want:   Error{StatusCode: 409, Code: "DeviceAlreadyExists", Message: "A device with ID 'd1' is already registered.", TrackingID: "abc-G:10-TimeStamp:x"},
			is:     ErrAlreadyExists,
		},
		{
			name:   "unknown numeric code kept as is",
			status: 400,
			body:   `{"Message":"{\"errorCode\":400030,\"message\":\"bad\"}"}`,
			want:   Error{StatusCode: 400, Code: "400030", Message: "bad"},
			is:     ErrBadRequest,
		},
		{
			name:   "inner JSON holding ErrorCode text",
			status: 400,
			body:   `{"Message":"{\"errorCode\":400004,\"message\":\"ErrorCode:ArgumentInvalid;bad id\"}"}`,
			want:   Error{StatusCode: 400, Code: "ArgumentInvalid", Message: "bad id"},
			is:     ErrBadRequest,
		},
		{
			name:   "lower-case member names",
			status: 401,
			body:   `{"message":"ErrorCode:IotHubUnauthorizedAccess;Unauthorized","exceptionMessage":"Tracking ID:t1-G:0-TimeStamp:x"}`,
			want:   Error{StatusCode: 401, Code: "IotHubUnauthorizedAccess", Message: "Unauthorized", TrackingID: "t1-G:0"},
			is:     ErrUnauthorized,
		},
		{
			name:   "throttled with Retry-After seconds",
			status: 429,
			header: map[string]string{"iothub-errorcode": "ThrottlingException", "Retry-After": "7"},
			body:   `{"Message":"ErrorCode:ThrottlingException;slow down"}`,
			want:   Error{StatusCode: 429, Code: "ThrottlingException", Message: "slow down", RetryAfter: 7 * time.Second},
			is:     ErrThrottled,
		},
		{
			name:   "Retry-After as HTTP date",
			status: 503,
			header: map[string]string{"Retry-After": now.Add(30 * time.Second).Format(http.TimeFormat)},
			body:   `{"Message":"ErrorCode:ServiceUnavailable;busy"}`,
			want:   Error{StatusCode: 503, Code: "ServiceUnavailable", Message: "busy", RetryAfter: 30 * time.Second},
			is:     ErrServer,
		},
		{
			name:   "Retry-After garbage ignored",
			status: 429,
			header: map[string]string{"Retry-After": "soon"},
			body:   `{}`,
			want:   Error{StatusCode: 429, Code: "TooManyRequests"},
			is:     ErrThrottled,
		},
		{
			name:   "generic Azure error shape",
			status: 403,
			body:   `{"error":{"code":"AuthorizationFailed","message":"no access"}}`,
			want:   Error{StatusCode: 403, Code: "AuthorizationFailed", Message: "no access"},
			is:     ErrForbidden,
		},
		{
			name:   "proxy HTML page",
			status: 502,
			body:   "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			want:   Error{StatusCode: 502, Code: "BadGateway", Message: "502 Bad Gateway"},
			is:     ErrServer,
		},
		{
			name:   "HTML without title",
			status: 504,
			body:   "<p>upstream\n\ttimed   out</p>",
			want:   Error{StatusCode: 504, Code: "GatewayTimeout", Message: "upstream timed out"},
			is:     ErrServer,
		},
		{
			name:   "empty body",
			status: 500,
			want:   Error{StatusCode: 500, Code: "InternalServerError"},
			is:     ErrServer,
		},
		{
			name:   "unknown status",
			status: 599,
			body:   "oops",
			want:   Error{StatusCode: 599, Code: "Status599", Message: "oops"},
			is:     ErrServer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got := parseError(tt.status, h, []byte(tt.body), now)
			if *got != tt.want {
				t.Errorf("parseError =\n %#v\nwant\n %#v", *got, tt.want)
			}
			if !errors.Is(got, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", got, tt.is)
			}
		})
	}
}

func TestParseErrorLongBody(t *testing.T) {
	body := strings.Repeat("é", 1000)
	got := parseError(502, http.Header{}, []byte(body), time.Now())
	if len(got.Message) > maxMessageBytes+3 || !utf8.ValidString(got.Message) {
		t.Errorf("message of %d bytes, valid UTF-8 %v", len(got.Message), utf8.ValidString(got.Message))
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(404, "DeviceNotFound", "", `{"Message":"ErrorCode:DeviceNotFound;d1","ExceptionMessage":"Tracking ID:abc-G:0-TimeStamp:x"}`)
	f.Add(409, "", "", `{"Message":"{\"errorCode\":409001,\"message\":\"exists\"}"}`)
	f.Add(429, "ThrottlingException", "10", `{"Message":"ErrorCode:ThrottlingException;"}`)
	f.Add(503, "", "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Add(502, "", "", "<html><title>Bad Gateway</title></html>")
	f.Add(400, "", "-1", `{"error":{"code":"x"}}`)
	f.Add(0, "", "99999999999999999999", `{"Message":null}`)
	f.Fuzz(func(t *testing.T, status int, code, retry, body string) {
		h := http.Header{}
		h.Set("iothub-errorcode", code)
		h.Set("Retry-After", retry)
		e := parseError(status, h, []byte(body), time.Unix(1700000000, 0))
		if e.StatusCode != status {
			t.Fatalf("status %d, want %d", e.StatusCode, status)
		}
		if e.Code == "" {
			t.Fatal("empty code")
		}
		if e.RetryAfter < 0 || e.RetryAfter > 24*time.Hour {
			t.Fatalf("RetryAfter %v", e.RetryAfter)
		}
		if msg := e.Error(); msg == "" {
			t.Fatal("empty Error()")
		}
	})
}
