// Package testenv starts the real servers Pressline's tests run against: an
// in-process NATS server with JetStream, and a MinIO server process, which
// it installs into a cache folder outside the repository when it is absent.
// Nothing here is a mock: a test that passes here passed against the
// servers production uses.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/natsembed"
)

// MinIOModule is the pinned MinIO version the tests run against.
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// NATS starts an in-process NATS server with JetStream on a free port and
// returns it with a connection; both close when the test ends.
func NATS(t testing.TB) (*natsembed.Server, *nats.Conn) {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{Dir: t.TempDir(), Port: -1})
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

// MinIO starts a MinIO server on a free loopback port with its data in a
// temporary folder, and returns a blob configuration for it. The server
// stops when the test ends.
func MinIO(t testing.TB) blob.Config {
	t.Helper()
	return StartMinIO(t).Config
}

// MinIOServer is a MinIO process a test can stop and start again (same
// port, data and keys), to see what an S3 outage does.
type MinIOServer struct {
	Config blob.Config
	t      testing.TB
	bin    string
	dir    string
	cons   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *lockedBuffer
}

// StartMinIO starts a MinIO server that stops when the test ends.
func StartMinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin, err := MinIOBinary()
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	m := &MinIOServer{t: t, bin: bin, dir: t.TempDir(), cons: FreeAddr(t), out: &lockedBuffer{},
		Config: blob.Config{Endpoint: FreeAddr(t), AccessKey: "pressline", SecretKey: randomHex(16), Bucket: "pressline"}}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start runs the server and waits until it answers S3 requests.
func (m *MinIOServer) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.Config.Endpoint, "--console-address", m.cons, m.dir)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.Config.AccessKey, "MINIO_ROOT_PASSWORD="+m.Config.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	cmd.Stdout, cmd.Stderr = m.out, m.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans if the test binary dies
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("minio: start: %v", err)
	}
	m.cmd = cmd
	// MinIO's health endpoint answers before its S3 API does ("Server not
	// initialized yet"), so wait for a real S3 request to succeed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := blob.New(ctx, m.Config)
		cancel()
		if err == nil {
			s.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("minio not ready on %s after 30s: %v\n%s", m.Config.Endpoint, err, m.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s).
func (m *MinIOServer) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// MinIOBinary returns the path of the pinned MinIO server, building it with
// `go install` into the cache folder the first time (about five minutes).
// PRESSLINE_MINIO names a binary to use instead.
func MinIOBinary() (string, error) {
	if p := os.Getenv("PRESSLINE_MINIO"); p != "" {
		return p, nil
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin", "minio")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Test binaries of several packages run in parallel; one builds.
	lock, err := os.OpenFile(filepath.Join(dir, "minio.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", MinIOModule)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", MinIOModule, err, out)
	}
	return bin, nil
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
