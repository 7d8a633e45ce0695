package bus

import (
	"testing"
	"time"
)

// The delay doubles from MinBackoff up to MaxBackoff, jittered into its
// upper half.
func TestBackoff(t *testing.T) {
	cfg := ConsumerConfig{MinBackoff: time.Second, MaxBackoff: time.Minute}
	for attempt := 1; attempt <= 40; attempt++ {
		d := backoff(cfg, attempt)
		ceiling := min(time.Second<<min(attempt-1, 30), time.Minute)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("attempt %d: %s outside [%s, %s]", attempt, d, ceiling/2, ceiling)
		}
	}
}
