package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SmallDisk mounts a tmpfs of size bytes on a fresh folder and returns
// the folder; it is unmounted when the test ends. A disk that really
// fills is the only honest way to show what a full disk does to NATS:
// its file store reacts to ENOSPC, not to a limit it was told about.
// Mounting needs root (CI runs as root); where it fails the test is
// skipped with the reason.
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	dir, err := TrySmallDisk(t, size)
	if err != nil {
		t.Skipf("no small disk to fill: %v", err)
	}
	return dir
}

// TrySmallDisk is SmallDisk for a test that can go on without one.
func TrySmallDisk(t testing.TB, size int64) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small-disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		return "", fmt.Errorf("mount a %d-byte tmpfs on %s (as uid %d): %w", size, dir, os.Geteuid(), err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir, nil
}

// FillDisk writes a file into dir until its file system has no room
// left, and returns the function that removes it again.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for n := len(chunk); ; {
		if _, err := f.Write(chunk[:n]); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			if n == 1 {
				break
			}
			n /= 2 // the last blocks, down to the last byte
		}
	}
	f.Close()
	return func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("free %s: %v", dir, err)
		}
	}
}
