package fault

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		permanent bool
		after     time.Duration
		hasAfter  bool
	}{
		{"plain", base, false, 0, false},
		{"permanent", Permanent(base), true, 0, false},
		{"wrapped permanent", fmt.Errorf("clean a1: %w", Permanent(base)), true, 0, false},
		{"retry", Retry(base, time.Second), false, time.Second, true},
		{"wrapped retry", fmt.Errorf("s3 put: %w", Retry(base, 2*time.Second)), false, 2 * time.Second, true},
		{"canceled", context.Canceled, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			after, ok := RetryAfter(tt.err)
			if ok != tt.hasAfter || after != tt.after {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", after, ok, tt.after, tt.hasAfter)
			}
			if !errors.Is(tt.err, base) && tt.err != context.Canceled {
				t.Errorf("classification lost the cause: %v", tt.err)
			}
		})
	}
	if Retry(nil, time.Second) != nil || Permanent(nil) != nil {
		t.Error("classifying nil must stay nil")
	}
}

func panicky() { panic("boom") }

func TestCaught(t *testing.T) {
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = Caught(r, debug.Stack())
			}
		}()
		panicky()
	}()
	if !IsPermanent(err) {
		t.Fatalf("a caught panic is not permanent: %v", err)
	}
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.At) == 0 {
		t.Fatalf("caught %#v", err)
	}
	if !strings.Contains(pe.At[0], "fault.panicky (fault_test.go:") {
		t.Errorf("innermost frame %q, want panicky in fault_test.go; all: %v", pe.At[0], pe.At)
	}
	if !strings.HasPrefix(err.Error(), "panic: boom, at ") {
		t.Errorf("message %q", err)
	}
}
