package proof

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

// childHubEnv, set to a data directory, makes the test binary a durable
// emulator instead of a test run: TestCrashDurability starts it so as to
// kill it.
const childHubEnv = "HUBDESK_PROOF_CHILD_HUB"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childHubEnv); dir != "" {
		os.Exit(serveChildHub(dir))
	}
	os.Exit(m.Run())
}

// serveChildHub serves a durable emulator on dir at a free loopback port,
// prints "ready URL CONNECTION-STRING" on one line once it accepts
// requests, and serves until it is killed (or, cleanly, on SIGTERM).
func serveChildHub(dir string) int {
	srv, err := emulator.NewServer(emulator.Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child hub:", err)
		return 1
	}
	fmt.Printf("ready %s %s\n", srv.URL(), srv.ConnectionString())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "child hub:", err)
		return 1
	}
	return 0
}
