package hub

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// testKey is base64("0123456789abcdef0123456789abcdef").
const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestParseConnectionString(t *testing.T) {
	want := ConnectionString{HostName: "myhub.azure-devices.net", SharedAccessKeyName: "iothubowner", SharedAccessKey: testKey}
	tests := []struct {
		name string
		in   string
		want ConnectionString
	}{
		{"portal order", "HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey, want},
		{"other order", "SharedAccessKey=" + testKey + ";SharedAccessKeyName=iothubowner;HostName=myhub.azure-devices.net", want},
		{"whitespace and trailing semicolon", "  HostName = myhub.azure-devices.net ;\n SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey + " ; ", want},
		{"names any case", "hostname=myhub.azure-devices.net;SHAREDACCESSKEYNAME=iothubowner;sharedaccesskey=" + testKey, want},
		{"emulator host with port", "HostName=127.0.0.1:8081;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey,
			ConnectionString{HostName: "127.0.0.1:8081", SharedAccessKeyName: "iothubowner", SharedAccessKey: testKey}},
		{"signature instead of key", "HostName=h.azure-devices.net;SharedAccessSignature=SharedAccessSignature sr=h.azure-devices.net&sig=a%3D&se=1&skn=p",
			ConnectionString{HostName: "h.azure-devices.net", SharedAccessSignature: "SharedAccessSignature sr=h.azure-devices.net&sig=a%3D&se=1&skn=p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConnectionString(tt.in)
			if err != nil {
				t.Fatalf("ParseConnectionString: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got.Secret(), tt.want.Secret())
			}
		})
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	const secret = "c2VjcmV0c2VjcmV0c2VjcmV0!!" // not base64: must never be echoed
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "HostName is missing"},
		{"no host", "SharedAccessKeyName=p;SharedAccessKey=" + testKey, "HostName is missing"},
		{"empty host", "HostName=;SharedAccessKeyName=p;SharedAccessKey=" + testKey, "HostName is empty"},
		{"host is a URL", "HostName=https://h.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey=" + testKey, "not a URL"},
		{"host with path", "HostName=h/x;SharedAccessKeyName=p;SharedAccessKey=" + testKey, "HostName is not a valid host name"},
		{"no key", "HostName=h;SharedAccessKeyName=p", "SharedAccessKey is missing"},
		{"empty key", "HostName=h;SharedAccessKeyName=p;SharedAccessKey=", "SharedAccessKey is empty"},
		{"key not base64", "HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + secret, "SharedAccessKey is not valid base64"},
		{"no key name", "HostName=h;SharedAccessKey=" + testKey, "SharedAccessKeyName is missing"},
		{"empty key name", "HostName=h;SharedAccessKeyName= ;SharedAccessKey=" + testKey, "SharedAccessKeyName is empty"},
		{"part without =", "HostName=h;" + secret + ";SharedAccessKeyName=p", "part 2 has no '='"},
		{"unknown part", "HostName=h;Foo=bar;SharedAccessKeyName=p;SharedAccessKey=" + testKey, "part 2 has an unknown name"},
		{"duplicate", "HostName=h;HostName=g;SharedAccessKeyName=p;SharedAccessKey=" + testKey, "HostName given twice"},
		{"device connection string", "HostName=h;DeviceId=d;SharedAccessKey=" + testKey, "device connection string"},
		{"key and signature", "HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + testKey + ";SharedAccessSignature=SharedAccessSignature sr=h", "not both"},
		{"bad signature", "HostName=h;SharedAccessSignature=" + secret, `must start with "SharedAccessSignature "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConnectionString(tt.in)
			if err == nil {
				t.Fatalf("ParseConnectionString(%q) = nil error, want %q", tt.in, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			for _, s := range []string{secret, testKey} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks the secret", err)
				}
			}
		})
	}
}

func TestConnectionStringRedacts(t *testing.T) {
	cs, err := ParseConnectionString("HostName=h;SharedAccessKeyName=p;SharedAccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "conn", cs)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", cs),
		"%+v":  fmt.Sprintf("%+v", cs),
		"%#v":  fmt.Sprintf("%#v", cs),
		"%s":   fmt.Sprintf("%s", cs),
		"&%v":  fmt.Sprintf("%v", &cs),
		"slog": logged.String(),
	}
	for verb, out := range outputs {
		if strings.Contains(out, testKey) || !strings.Contains(out, "REDACTED") {
			t.Errorf("%s printed %q, want the key redacted", verb, out)
		}
	}
	if got := cs.Secret(); !strings.Contains(got, testKey) {
		t.Errorf("Secret() = %q, want the key", got)
	}
	if again, err := ParseConnectionString(cs.Secret()); err != nil || again != cs {
		t.Errorf("Secret() does not round-trip: %v", err)
	}
}

func FuzzParseConnectionString(f *testing.F) {
	partNumberRE := regexp.MustCompile(`part [0-9]+`)
	f.Add("HostName=myhub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=" + testKey)
	f.Add("HostName=h;SharedAccessSignature=SharedAccessSignature sr=h&sig=x&se=1")
	f.Add(" ; ;HostName=h;;SharedAccessKey=" + testKey + ";SharedAccessKeyName=p;")
	f.Add("HostName=h;SharedAccessKeyName=p;SharedAccessKey=abc")
	f.Add("=;==;a=b=c")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			// Whatever the input, the error names parts, never values. A
			// value can only be told apart from the fixed message text if
			// it has a digit, "+" or "/", as keys do; part numbers are
			// the only digits a message has.
			msg := partNumberRE.ReplaceAllString(err.Error(), "part N")
			for _, part := range strings.Split(s, ";") {
				_, v, ok := strings.Cut(part, "=")
				if v = strings.TrimSpace(v); ok && strings.ContainsAny(v, "0123456789+/") && strings.Contains(msg, v) {
					t.Fatalf("error %q contains the value %q", err, v)
				}
			}
			return
		}
		if cs.HostName == "" || (cs.SharedAccessKey == "") == (cs.SharedAccessSignature == "") {
			t.Fatalf("accepted an incomplete connection string: %s", cs)
		}
		again, err := ParseConnectionString(cs.Secret())
		if err != nil || again != cs {
			t.Fatalf("Secret() %q does not round-trip: %v", cs.Secret(), err)
		}
		if cs.SharedAccessKey != "" && strings.Contains(cs.String(), cs.SharedAccessKey) && !strings.Contains(cs.HostName+cs.SharedAccessKeyName+"REDACTED", cs.SharedAccessKey) {
			t.Fatalf("String() %q leaks the key", cs.String())
		}
	})
}
