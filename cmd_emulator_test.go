package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hubdesk/hubdesk/hub"
)

// TestEmulatorCommand runs `hubdesk emulator` as a person would, reads the
// connection string it prints, and uses it with the client; then restarts it
// on the same data directory and checks the device and the key survived.
func TestEmulatorCommand(t *testing.T) {
	dir := t.TempDir()
	start := func() (connString string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"emulator", "--addr", "127.0.0.1:0", "--data", dir}, func(string) string { return "" }, pw, io.Discard)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("reading the connection string: %v (run: %v)", err, <-done)
		}
		go io.Copy(io.Discard, pr)
		return strings.TrimSpace(line), func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("emulator exit: %v", err)
			}
		}
	}

	cs, stop := start()
	if !strings.HasPrefix(cs, "HostName=") || !strings.Contains(cs, "SharedAccessKeyName=iothubowner") {
		t.Fatalf("printed %q, want a connection string alone on its line", cs)
	}
	parsed, err := hub.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := hub.New(cs, hub.WithBaseURL("http://"+parsed.HostName))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.CreateDevice(ctx, &hub.Device{DeviceID: "kept-across-restarts"}); err != nil {
		t.Fatal(err)
	}
	stop()

	cs2, stop2 := start()
	defer stop2()
	parsed2, _ := hub.ParseConnectionString(cs2)
	if parsed2.SharedAccessKey != parsed.SharedAccessKey {
		t.Error("the owner key changed across restarts on the same data directory")
	}
	c2, _ := hub.New(cs2, hub.WithBaseURL("http://"+parsed2.HostName))
	if _, err := c2.GetDevice(ctx, "kept-across-restarts"); err != nil {
		t.Fatalf("device lost across restart: %v", err)
	}
}

func TestEmulatorCommandRejectsBadKey(t *testing.T) {
	err := run(context.Background(), []string{"emulator", "--key", "not base64!"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("err = %v", err)
	}
}
