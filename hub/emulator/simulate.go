package emulator

import (
	"context"
	"time"
)

func (e *Emulator) simulate(ctx context.Context, interval time.Duration, seed int64) {
	<-ctx.Done()
}
