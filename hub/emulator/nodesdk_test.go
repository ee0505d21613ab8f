package emulator_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// TestNodeSDK runs the official Azure IoT Hub Node service SDK
// (azure-iothub, pinned in testdata/nodesdk/package-lock.json) against the
// emulator: testdata/nodesdk/check.js drives its Registry class and its
// generated protocol-layer client, one line per check.
//
// The SDK's Registry sends every request to https://{HostName} on port 443
// and has no option for another port (a HostName of host:port is looked up
// as a DNS name), so the emulator serves TLS on port 443 of a loopback
// address of its own, 127.x.y.z, which needs root or
// net.ipv4.ip_unprivileged_port_start <= 443.
func TestNodeSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm and node")
	}
	node, npm := lookPathOrSkip(t, "node"), lookPathOrSkip(t, "npm")
	dir, err := filepath.Abs(filepath.Join("testdata", "nodesdk"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "azure-iothub", "package.json")); err != nil {
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}

	ip := listenLoopback443(t)
	certFile, keyFile := writeSelfSigned(t, ip)
	srv, err := emulator.NewServer(emulator.Options{
		Addr:        net.JoinHostPort(ip.String(), "443"),
		HostName:    ip.String(),
		TLSCertFile: certFile,
		TLSKeyFile:  keyFile,
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { srv.Close() })

	cmd := exec.CommandContext(ctx, node, "check.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"IOTHUB_CONNECTION_STRING="+srv.ConnectionString(),
		"NODE_EXTRA_CA_CERTS="+certFile,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	var failed []string
	for line := range strings.Lines(out.String()) {
		line = strings.TrimRight(line, "\n")
		t.Log(line)
		if strings.HasPrefix(line, "FAIL") {
			failed = append(failed, line)
		}
	}
	if runErr != nil || len(failed) > 0 {
		t.Errorf("node check.js: %v; %d checks failed:\n%s", runErr, len(failed), strings.Join(failed, "\n"))
	}
	if !strings.Contains(out.String(), " passed, 0 failed") {
		t.Errorf("node check.js printed no summary line")
	}
}

// lookPathOrSkip finds a program, or skips the test naming the Debian
// packages that provide it; under CI a missing program fails the test.
func lookPathOrSkip(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: install the Debian packages nodejs and npm", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// listenLoopback443 picks a loopback address whose port 443 is free. A
// random 127.x.y.z keeps parallel test runs and local servers apart.
func listenLoopback443(t *testing.T) net.IP {
	t.Helper()
	var lastErr error
	for range 20 {
		var b [3]byte
		rand.Read(b[:])
		ip := net.IPv4(127, b[0], b[1], max(b[2], 2))
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "443"))
		if err == nil {
			// Free now; NewServer binds it again straight away.
			ln.Close()
			return ip
		}
		lastErr = err
		if errors.Is(err, syscall.EACCES) {
			break
		}
	}
	msg := fmt.Sprintf("cannot listen on port 443 of a loopback address (%v): the Node SDK's Registry only talks to port 443; run as root or lower net.ipv4.ip_unprivileged_port_start", lastErr)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// writeSelfSigned writes a self-signed certificate for ip and localhost and
// its key, as PEM files; the certificate is its own CA, for
// NODE_EXTRA_CA_CERTS.
func writeSelfSigned(t *testing.T, ip net.IP) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "hubdesk emulator test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{ip, net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
