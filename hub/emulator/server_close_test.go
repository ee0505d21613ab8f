package emulator_test

import (
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
)

func TestServerCloseTwice(t *testing.T) {
	srv, err := emulator.NewServer(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
