package hub

import (
	"strings"
	"testing"
	"time"
)

func TestSignSAS(t *testing.T) {
	expiry := time.Unix(1700000000, 0)
	// Expected signatures computed independently with openssl:
	//   KEY=$(printf 0123456789abcdef0123456789abcdef | xxd -p -c 256)
	//   printf 'myhub.azure-devices.net\n1700000000' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary | base64
	//   -> sJAIZTF5oG40VHrie96heZ865+nR4QavBvHnzxZm8rk=
	//   printf '127.0.0.1%3A8081\n1700000000' | ... (the URL-encoded resource is what is signed)
	//   -> uCgaAMnC7n4jrBzrkwi0WfUrdJOWX+RVkzJV4kYEH5E=
	tests := []struct {
		name, resource, policy, want string
	}{
		{"hub host", "myhub.azure-devices.net", "iothubowner",
			"SharedAccessSignature sr=myhub.azure-devices.net&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D&se=1700000000&skn=iothubowner"},
		{"host with port is encoded before signing", "127.0.0.1:8081", "iothubowner",
			"SharedAccessSignature sr=127.0.0.1%3A8081&sig=uCgaAMnC7n4jrBzrkwi0WfUrdJOWX%2BRVkzJV4kYEH5E%3D&se=1700000000&skn=iothubowner"},
		{"no policy leaves skn out", "myhub.azure-devices.net", "",
			"SharedAccessSignature sr=myhub.azure-devices.net&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D&se=1700000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SignSAS(tt.resource, tt.policy, testKey, expiry)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("SignSAS =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

func TestSignSASErrors(t *testing.T) {
	tests := []struct {
		name, resource, key, wantErr string
	}{
		{"empty resource", "", testKey, "empty resource"},
		{"key not base64", "h", "not*base64", "key is not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SignSAS(tt.resource, "p", tt.key, time.Unix(1, 0))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q leaks the key", err)
			}
		})
	}
}
