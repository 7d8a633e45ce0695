// Package fault classifies errors once, where they arise, as worth retrying
// later or not worth retrying at all. The consumer adapter in pkg/bus is the
// only place that turns that class into a JetStream ack, nak or term.
//
// An error that carries no class is treated as retryable: a stage that does
// not know why it failed should try again (a bounded number of times) rather
// than drop the article, and exhausting the retries still ends in a
// dead-letter record, never in silence.
package fault

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// RetryableError asks for another attempt after at least After.
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// PermanentError says that no attempt will ever succeed: the input is
// malformed, a referenced object is gone for good, a rule rejects it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Retry marks err as worth retrying after d (0 lets the caller choose).
func Retry(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err, After: d}
}

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether any error in err's chain is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfter returns the delay asked for by a retryable error in err's
// chain, and whether there was one.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryableError
	if errors.As(err, &r) {
		return r.After, true
	}
	return 0, false
}

// PanicError is a panic caught where a handler or a loop was called: the
// value it panicked with and where, the top of its stack.
type PanicError struct {
	Value any
	// At is the panicking function and its callers, innermost first,
	// each as "function (file:line)".
	At []string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v, at %s", e.Value, strings.Join(e.At, " < "))
}

// Caught turns a recovered panic value into a permanent error: the same
// input panics again, so retrying only repeats the crash. stack is
// debug.Stack() taken in the deferred recover.
func Caught(v any, stack []byte) error {
	return &PermanentError{Err: &PanicError{Value: v, At: panicFrames(stack, 4)}}
}

// panicFrames reads the n innermost frames below the panic from a
// goroutine stack trace, in the form runtime/debug prints it: a line
// with the function, then a tab and file:line.
func panicFrames(stack []byte, n int) []string {
	lines := strings.Split(string(stack), "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2 // past panic( and its file line
			break
		}
	}
	var out []string
	for i := start; i+1 < len(lines) && len(out) < n; i += 2 {
		fn := lines[i]
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		file := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(file, " +0x"); j > 0 {
			file = file[:j]
		}
		if fn == "" || file == "" {
			break
		}
		out = append(out, fmt.Sprintf("%s (%s)", fn, path.Base(file)))
	}
	return out
}
