package emulator_test

import (
	"path/filepath"
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/hub/emulator/storetest"
)

func openBolt(t *testing.T, path string) emulator.Store {
	t.Helper()
	s, err := emulator.OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) emulator.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "hub.db"))
	})
}
