package hub

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessageBytes bounds the message kept from an error body that is not
// one of the hub's envelopes (a proxy's HTML page, say).
const maxMessageBytes = 300

// errorEnvelope is the hub's error body:
// {"Message":"ErrorCode:{Name};{text}","ExceptionMessage":"Tracking ID:..."}.
// Message may instead hold an escaped innerError. Member names match
// case-insensitively, as encoding/json does.
type errorEnvelope struct {
	Message          *string `json:"Message"`
	ExceptionMessage string  `json:"ExceptionMessage"`
	// Error is the generic Azure shape {"error":{"code","message"}} that
	// gateways in front of the hub sometimes send.
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// innerError is the JSON some hub errors carry inside Message.
type innerError struct {
	ErrorCode  json.Number `json:"errorCode"`
	TrackingID string      `json:"trackingId"`
	Message    string      `json:"message"`
}

// numericCodes names the numeric error codes of the inner envelope, from
// the service SDKs' ErrorCode enumerations.
var numericCodes = map[string]string{
	"400001": CodeInvalidProtocolVersion,
	"400004": CodeArgumentInvalid,
	"400006": CodeIotHubFormatError,
	"401002": CodeUnauthorized,
	"403002": CodeIotHubQuotaExceeded,
	"403004": CodeDeviceMaximumQueueDepth,
	"404001": CodeDeviceNotFound,
	"404010": CodeModuleNotFound,
	"409001": CodeDeviceAlreadyExists,
	"409301": CodeModuleAlreadyExists,
	"412001": CodePreconditionFailed,
	"413001": CodeMessageTooLarge,
	"413003": CodeTooManyModulesOnDevice,
	"429001": CodeThrottlingException,
	"500001": CodeServerError,
	"503001": CodeServiceUnavailable,
}

var (
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// parseError turns an error response into an *Error. It accepts both hub
// envelopes and, for anything else, keeps a short clean excerpt of the body.
// The code comes from the iothub-errorcode header, else "ErrorCode:{Name}"
// in the message, else the inner errorCode, else the status. now resolves
// a Retry-After given as an HTTP date.
func parseError(status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{StatusCode: status}
	var inner innerError
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err == nil {
		switch {
		case env.Message != nil:
			msg := strings.TrimSpace(*env.Message)
			if strings.HasPrefix(msg, "{") && json.Unmarshal([]byte(msg), &inner) == nil {
				msg = inner.Message
				e.TrackingID = inner.TrackingID
			}
			if rest, ok := strings.CutPrefix(msg, "ErrorCode:"); ok {
				name, text, _ := strings.Cut(rest, ";")
				e.Code = strings.TrimSpace(name)
				msg = text
			}
			e.Message = strings.TrimSpace(msg)
		case env.Error != nil:
			e.Code, e.Message = env.Error.Code, env.Error.Message
		}
		if id := trackingID(env.ExceptionMessage); id != "" {
			e.TrackingID = id
		}
	} else {
		e.Message = excerpt(body)
	}
	if inner.TrackingID != "" && e.TrackingID == "" {
		e.TrackingID = inner.TrackingID
	}
	if h := strings.TrimSpace(header.Get("iothub-errorcode")); h != "" {
		e.Code = h
	} else if e.Code == "" && inner.ErrorCode != "" {
		e.Code = numericCodes[inner.ErrorCode.String()]
		if e.Code == "" {
			e.Code = inner.ErrorCode.String()
		}
	}
	if e.Code == "" {
		e.Code = strings.ReplaceAll(http.StatusText(status), " ", "")
		if e.Code == "" {
			e.Code = "Status" + strconv.Itoa(status)
		}
	}
	e.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	return e
}

// trackingID extracts the id from "Tracking ID:{id}-G:0-TimeStamp:{time}",
// keeping the gateway part, which support asks for with the id.
func trackingID(exception string) string {
	_, rest, ok := strings.Cut(exception, "Tracking ID:")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "-TimeStamp:")
	if i := strings.IndexAny(rest, " \t\r\n,;"); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSpace(rest)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 24*3600 {
			secs = 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// excerpt makes a short, printable message from a body that is not a hub
// envelope: the HTML title if there is one, else the text without tags.
func excerpt(body []byte) string {
	s := string(body)
	if m := titleRE.FindStringSubmatch(s); m != nil {
		s = m[1]
	} else {
		s = tagRE.ReplaceAllString(s, " ")
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if len(s) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
