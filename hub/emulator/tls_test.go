package emulator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
	"github.com/hubdesk/hubdesk/hub/emulator"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files and returns their paths and the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hubdesk test hub"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestServerTLS serves HTTPS with a certificate from files: a client that
// trusts it works, one that does not fails on the certificate.
func TestServerTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t)
	srv, err := emulator.NewServer(emulator.Options{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https://127.0.0.1:port", srv.URL())
	}
	ctx := context.Background()

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	c := srv.Client(hub.WithHTTPClient(trusting))
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "over-tls"}); err != nil {
		t.Fatalf("CreateDevice over TLS: %v", err)
	}
	d, err := c.GetDevice(ctx, "over-tls")
	if err != nil || d.DeviceID != "over-tls" {
		t.Fatalf("GetDevice over TLS: %v, %v", d, err)
	}

	strict := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	_, err = srv.Client(hub.WithHTTPClient(strict)).GetDevice(ctx, "over-tls")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client without the CA: error %v, want x509.UnknownAuthorityError", err)
	}

	plain, err := http.Get("http://" + strings.TrimPrefix(srv.URL(), "https://") + "/devices")
	if err == nil {
		defer plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %s, want 400 from the TLS server", plain.Status)
		}
	}
}

func TestServerTLSBadFiles(t *testing.T) {
	certFile, _, _ := selfSigned(t)
	_, err := emulator.NewServer(emulator.Options{TLSCertFile: certFile, TLSKeyFile: filepath.Join(t.TempDir(), "missing.key")})
	if err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Errorf("NewServer with a missing key: %v, want a TLS certificate error", err)
	}
}
