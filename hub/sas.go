package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// SignSAS returns a shared access signature token for resource (usually
// the bare hub host name), signed with the policy's base64 key and valid
// until expiry:
//
//	SharedAccessSignature sr={resource}&sig={signature}&se={unix seconds}&skn={policy}
//
// The signature is the base64 HMAC-SHA256, keyed with the decoded key, of
// the URL-encoded resource, a newline and the expiry; sr, sig and skn are
// URL-encoded. An empty policy leaves skn out (device-scoped tokens).
// SignSAS is a pure function: it reads no clock.
func SignSAS(resource, policy, key string, expiry time.Time) (string, error) {
	if resource == "" {
		return "", errors.New("hub: SAS: empty resource")
	}
	rawKey, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		// err quotes the key: leave it out.
		return "", errors.New("hub: SAS: key is not valid base64")
	}
	sr := url.QueryEscape(resource)
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, rawKey)
	mac.Write([]byte(sr + "\n" + se))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	token := "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se
	if policy != "" {
		token += "&skn=" + url.QueryEscape(policy)
	}
	return token, nil
}
