package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pressline/pressline/internal/natsembed"
)

// natsProc is a nats-server process: one node of a cluster of processes.
type natsProc struct {
	cmd  *exec.Cmd
	http string // its monitoring endpoint
	id   string // its server id, read once it is up
	out  *LockedBuffer
	done chan struct{} // closed when the process has ended
}

// startNATSProc runs nats-server with the node's configuration (the same
// settings natsembed gives an in-process node) and waits until it answers
// on its monitoring port.
func startNATSProc(bin string, cfg natsembed.Config) (*natsProc, error) {
	c := cfg.Cluster
	var routes []string
	for _, r := range c.Routes {
		routes = append(routes, fmt.Sprintf("%q", "nats://"+r))
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
http: %q
jetstream { store_dir: %q, sync_interval: always }
cluster {
  name: %q
  listen: %q
  advertise: %q
  pool_size: -1
  routes: [%s]
}
`, cfg.Name, cfg.Port, httpAddr, filepath.Join(cfg.Dir, "js"), c.Name, c.Listen, c.Advertise, strings.Join(routes, ", "))
	path := filepath.Join(cfg.Dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p := &natsProc{http: "http://" + httpAddr, out: &LockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-c", path)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans if the test binary dies
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	var vz struct {
		ID string `json:"server_id"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.monitor("/varz", &vz) != nil || vz.ID == "" {
		select {
		case <-p.done: // a port taken by another listener ends it at once
			return nil, fmt.Errorf("nats-server %s exited:\n%s", cfg.Name, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.halt(syscall.SIGKILL)
			return nil, fmt.Errorf("nats-server %s not up after 30s:\n%s", cfg.Name, p.out.String())
		}
	}
	p.id = vz.ID
	return p, nil
}

// monitor GETs a monitoring endpoint into v (nil: only the status); an
// answer other than 200 is an error.
func (p *natsProc) monitor(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.http+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// halt sends sig and waits for the process to end (SIGKILL after 10 s).
func (p *natsProc) halt(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// NATSServerBinary returns the path of nats-server at the release go.mod
// names (the embedded server's), building it with `go install` into the
// cache folder the first time. PRESSLINE_NATS_SERVER names a binary to
// use instead.
func NATSServerBinary() (string, error) {
	if p := os.Getenv("PRESSLINE_NATS_SERVER"); p != "" {
		return p, nil
	}
	// The test runs inside the module: go list reads its go.mod.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/nats-io/nats-server/v2").Output()
	version := strings.TrimSpace(string(out))
	if err != nil || version == "" {
		return "", fmt.Errorf("the nats-server release in go.mod: %v", err)
	}
	return cachedTool("nats-server-"+version, "github.com/nats-io/nats-server/v2@"+version, "nats-server")
}

// freeAddr is FreeAddr without a test.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
