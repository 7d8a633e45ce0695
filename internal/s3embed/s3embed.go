// Package s3embed runs an S3-compatible server inside the current process,
// so that `pressline dev` and tests need nothing installed. It wraps
// versitygw's embeddable gateway over its posix backend.
//
// Two quirks of versitygw shape this package: the posix backend changes the
// process's working directory to the data root (and from then on resolves
// buckets relative to it), and only one gateway may run per process. Callers
// must therefore resolve every other path to an absolute one before calling
// Start, and Start refuses a second server.
package s3embed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"golang.org/x/sys/unix"
)

// Config says where the server keeps its data and how clients authenticate.
type Config struct {
	// Dir holds the buckets, one directory each. Created if missing.
	Dir string
	// MetaDir holds object metadata (ETags, content types) in side-car files;
	// it must lie outside Dir, and versitygw compares the two as strings,
	// so Dir must not even be a prefix of it ("data/s3meta" is refused). Side-car files work on every filesystem, where
	// the alternative, extended attributes, does not (tmpfs, some overlays).
	MetaDir string
	// Addr is the loopback listen address; empty picks a free port.
	Addr      string
	AccessKey string
	SecretKey string
}

// Server is a running embedded S3 server.
type Server struct {
	Endpoint  string // host:port, as minio-go wants it
	AccessKey string
	SecretKey string

	cancel context.CancelFunc
	done   chan error
}

var running atomic.Bool

// healthPath is served without authentication; Start polls it to know the
// gateway is accepting requests.
const healthPath = "/pressline-s3embed-health"

// Start starts the server and returns once it answers requests.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("s3embed: access key and secret key are required")
	}
	if !filepath.IsAbs(cfg.Dir) || !filepath.IsAbs(cfg.MetaDir) {
		// The backend chdirs into Dir, so a relative path would silently
		// change meaning for the rest of the process.
		return nil, fmt.Errorf("s3embed: Dir %q and MetaDir %q must be absolute", cfg.Dir, cfg.MetaDir)
	}
	if strings.HasPrefix(cfg.MetaDir, cfg.Dir) {
		return nil, fmt.Errorf("s3embed: MetaDir %q must not start with Dir %q", cfg.MetaDir, cfg.Dir)
	}
	if !running.CompareAndSwap(false, true) {
		return nil, errors.New("s3embed: a server is already running in this process (versitygw allows one)")
	}
	ok := false
	defer func() {
		if !ok {
			running.Store(false)
		}
	}()

	for _, d := range []string{cfg.Dir, cfg.MetaDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("s3embed: %w", err)
		}
	}
	addr := cfg.Addr
	if addr == "" {
		free, err := freeLoopbackAddr()
		if err != nil {
			return nil, fmt.Errorf("s3embed: pick a port: %w", err)
		}
		addr = free
	}

	// versitygw prints start-up notes with fmt.Println; they belong on
	// stderr, not mixed into a command's output (pressline bench --json).
	// The file descriptor is swapped, not os.Stdout, which other
	// goroutines read.
	restore := stdoutToStderr()
	defer restore()

	sidecar, err := meta.NewSideCar(cfg.MetaDir)
	if err != nil {
		return nil, fmt.Errorf("s3embed: metadata dir: %w", err)
	}
	be, err := posix.New(cfg.Dir, sidecar, posix.PosixOpts{SideCarDir: cfg.MetaDir})
	if err != nil {
		return nil, fmt.Errorf("s3embed: posix backend: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{Endpoint: addr, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- embedgw.RunVersityGW(runCtx, be, &embedgw.Config{
			RootUserAccess:    cfg.AccessKey,
			RootUserSecret:    cfg.SecretKey,
			Ports:             []string{addr},
			MaxConnections:    1000,
			MaxRequests:       1000,
			MultipartMaxParts: 10000,
			Quiet:             true,
			KeepAlive:         true,
			HealthPath:        healthPath,
		})
		be.Shutdown()
		running.Store(false)
	}()

	if err := s.waitReady(ctx); err != nil {
		cancel()
		<-s.done
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	url := "http://" + s.Endpoint + healthPath
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("s3embed: gateway stopped during start-up: %v", err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s3embed: gateway on %s not ready after 15s: %v", s.Endpoint, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the server and waits for it to finish.
func (s *Server) Close() error {
	s.cancel()
	err := <-s.done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// stdoutToStderr points file descriptor 1 at stderr until restore is
// called; if that cannot be done, output stays where it was.
func stdoutToStderr() (restore func()) {
	saved, err := unix.Dup(1)
	if err != nil {
		return func() {}
	}
	if err := unix.Dup2(2, 1); err != nil {
		_ = unix.Close(saved)
		return func() {}
	}
	return func() {
		_ = unix.Dup2(saved, 1)
		_ = unix.Close(saved)
	}
}
