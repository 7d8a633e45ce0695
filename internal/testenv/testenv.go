// Package testenv starts the real servers Pressline's tests run against: an
// in-process NATS server with JetStream or a three-node JetStream cluster
// (cluster.go, with network partitions), and a MinIO server process or a
// distributed MinIO of several (minio.go), which it installs into a cache
// folder outside the repository when it is absent. Nothing here is a
// mock: a test that passes here passed against the servers production
// uses.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/natsembed"
)

// NATS starts an in-process NATS server with JetStream on a free port and
// returns it with a connection; both close when the test ends.
func NATS(t testing.TB) (*natsembed.Server, *nats.Conn) {
	t.Helper()
	return NATSWith(t, natsembed.Config{Dir: t.TempDir(), Port: -1})
}

// NATSIn is NATS with its store in dir (a SmallDisk, say), each write
// fsynced as production's configuration asks, so that a full disk is
// met at the write that fills it.
func NATSIn(t testing.TB, dir string) (*natsembed.Server, *nats.Conn) {
	t.Helper()
	return NATSWith(t, natsembed.Config{Dir: dir, Port: -1, SyncAlways: true, RestartEvery: 200 * time.Millisecond})
}

// NATSWith is NATS started as cfg says.
func NATSWith(t testing.TB, cfg natsembed.Config) (*natsembed.Server, *nats.Conn) {
	t.Helper()
	srv, err := natsembed.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return srv, nc
}

// JetStream connects to url (one node, or several) and returns a
// JetStream context on the connection, which closes when the test ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// CacheDir is where tools the tests need are kept between runs:
// $PRESSLINE_CACHE, or pressline under the user's cache folder.
func CacheDir() (string, error) {
	if d := os.Getenv("PRESSLINE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "pressline"), nil
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Pressline builds the pressline binary once per test process, for the
// tests that run it as a process. They must: the embedded S3 server
// changes the process's working directory, which would pull the ground
// from under every other test if it ran in-process and its folder was
// removed. A package that uses it runs its tests through Main, which
// removes the build at the end.
func Pressline(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pressline-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "pressline")
		cmd := exec.Command("go", "build", "-o", built.bin, "github.com/pressline/pressline/cmd/pressline")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// Main runs a package's tests (from its TestMain) and removes what
// Pressline built.
func Main(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
