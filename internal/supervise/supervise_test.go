package supervise

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPanicRestartsTheLoop(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var logged strings.Builder
	s := New(slog.New(slog.NewTextHandler(&logged, nil)), reg)
	s.pause = time.Millisecond
	var runs atomic.Int32
	err := s.Run(context.Background(), "feeds", func(ctx context.Context) error {
		if runs.Add(1) < 3 {
			panic("nil map in the feed cache")
		}
		return errors.New("stopped on purpose")
	})
	if err == nil || err.Error() != "stopped on purpose" || runs.Load() != 3 {
		t.Fatalf("Run = %v after %d runs, want the third run's error", err, runs.Load())
	}
	if got := testutil.ToFloat64(s.panics.WithLabelValues("feeds")); got != 2 {
		t.Errorf("panics counted %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "pressline_loop_panics_total"); err != nil || n != 1 {
		t.Errorf("registered series %d, %v", n, err)
	}
	if !strings.Contains(logged.String(), "nil map in the feed cache") || !strings.Contains(logged.String(), "supervise_test.go") {
		t.Errorf("the log does not say what panicked where:\n%s", logged.String())
	}
}

func TestCancelStopsARestartingLoop(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	s.pause = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "embargo", func(context.Context) error { panic("boom") }) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled loop waiting to restart did not stop")
	}
}
