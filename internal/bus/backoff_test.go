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

// With a schedule, the n-th retry waits the schedule's n-th entry, up to
// a tenth longer.
func TestBackoffSchedule(t *testing.T) {
	cfg := ConsumerConfig{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, time.Hour}, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	for attempt, want := range map[int]time.Duration{1: 5 * time.Second, 2: 5 * time.Minute, 3: time.Hour, 4: time.Hour} {
		for range 20 {
			if d := backoff(cfg, attempt); d < want || d > want+want/10 {
				t.Errorf("after attempt %d: %s, want %s to %s", attempt, d, want, want+want/10)
			}
		}
	}
}
