package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/blob"
)

// MinIOModule is the pinned MinIO version the tests run against.
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

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
	addr   string   // where this process listens (Config.Endpoint for a single server)
	drives []string // the server's drives: its folder, or a cluster's endpoints
	env    []string // beyond the keys
	cons   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *LockedBuffer
}

// StartMinIO starts a MinIO server that stops when the test ends.
func StartMinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin, err := MinIOBinary()
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	m := &MinIOServer{t: t, bin: bin, drives: []string{t.TempDir()}, cons: FreeAddr(t), out: &LockedBuffer{},
		Config: blob.Config{Endpoint: FreeAddr(t), AccessKey: "pressline", SecretKey: randomHex(16), Bucket: "pressline"}}
	m.addr = m.Config.Endpoint
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
	m.launchLocked()
	m.waitReadyLocked()
}

// launch starts the process without waiting for it.
func (m *MinIOServer) launch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.launchLocked()
}

func (m *MinIOServer) waitReady() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waitReadyLocked()
}

func (m *MinIOServer) launchLocked() {
	cmd := exec.Command(m.bin, append([]string{"server", "--quiet", "--address", m.addr, "--console-address", m.cons}, m.drives...)...)
	cmd.Env = append(append(os.Environ(), "MINIO_ROOT_USER="+m.Config.AccessKey, "MINIO_ROOT_PASSWORD="+m.Config.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off"), m.env...)
	cmd.Stdout, cmd.Stderr = m.out, m.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans if the test binary dies
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("minio: start: %v", err)
	}
	m.cmd = cmd
}

func (m *MinIOServer) waitReadyLocked() {
	m.t.Helper()
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

// Kill ends the server with SIGKILL: no goodbye.
func (m *MinIOServer) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
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

// MinIOCluster is a distributed MinIO: n server processes with one drive
// each, erasure coded (n/2 parity), so that one can be stopped while
// the others go on reading and writing. Clients go to node 0, as they
// would to a load balancer in front of the nodes; a test stops the
// others.
type MinIOCluster struct {
	Config blob.Config
	Nodes  []*MinIOServer
}

// StartMinIOCluster starts n MinIO processes as one distributed server
// and waits until it answers S3 requests; they stop when the test ends.
func StartMinIOCluster(t testing.TB, n int) *MinIOCluster {
	t.Helper()
	bin, err := MinIOBinary()
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	host := clusterHost()
	root := t.TempDir()
	c := &MinIOCluster{Config: blob.Config{AccessKey: "pressline", SecretKey: randomHex(16), Bucket: "pressline"}}
	var drives []string
	for i := range n {
		_, port, _ := net.SplitHostPort(FreeAddr(t))
		addr := net.JoinHostPort(host, port)
		drives = append(drives, fmt.Sprintf("http://%s%s/d%d", addr, root, i))
		c.Nodes = append(c.Nodes, &MinIOServer{t: t, bin: bin, addr: addr, cons: FreeAddr(t), out: &LockedBuffer{},
			// MinIO refuses drives on the root file system outside CI mode.
			env: []string{"MINIO_CI_CD=1"}})
	}
	c.Config.Endpoint = c.Nodes[0].addr
	for _, m := range c.Nodes {
		m.drives = drives
		m.Config = c.Config
		m.Config.Endpoint = c.Nodes[0].addr // readiness is the cluster's
		m.launch()
		t.Cleanup(m.Stop)
	}
	c.Nodes[0].waitReady()
	return c
}

// clusterHost is the address a MinIO cluster's nodes listen on: a
// non-loopback one when the machine has it, because MinIO in a container
// (it looks for /.dockerenv) will not run distributed on loopback.
func clusterHost() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// MinIOBinary returns the path of the pinned MinIO server, building it with
// `go install` into the cache folder the first time (about five minutes).
// PRESSLINE_MINIO names a binary to use instead.
func MinIOBinary() (string, error) {
	if p := os.Getenv("PRESSLINE_MINIO"); p != "" {
		return p, nil
	}
	return cachedTool("minio", MinIOModule, "minio")
}

// cachedTool returns the cache folder's bin/<name>, building it first
// with `go install module` when it is absent (the command the module
// installs is called command).
func cachedTool(name, module, command string) (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Test binaries of several packages run in parallel; one builds.
	lock, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
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
	gobin, err := os.MkdirTemp(filepath.Dir(bin), ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gobin)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", module)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", module, err, out)
	}
	if err := os.Rename(filepath.Join(gobin, command), bin); err != nil {
		return "", err
	}
	return bin, nil
}
