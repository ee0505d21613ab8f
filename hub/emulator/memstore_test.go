package emulator_test

import (
	"testing"

	"github.com/hubdesk/hubdesk/hub/emulator"
	"github.com/hubdesk/hubdesk/hub/emulator/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) emulator.Store { return emulator.NewMemoryStore() })
}
