package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pressline/pressline/internal/natsembed"
)

// Cluster is n in-process NATS servers with JetStream, clustered over
// loopback routes. A test may stop a node and start it again (same
// ports, same data) to see what losing one does, or cut it off from the
// others while it runs (a network partition): every route goes through
// a proxy of the harness in front of each node's route port, which knows
// which node dialled from the route handshake.
type Cluster struct {
	t       testing.TB
	cfgs    []natsembed.Config
	proxies []*routeProxy // each node's route port, as the others reach it
	mu      sync.Mutex
	nodes   []*natsembed.Server // nil while stopped
	cut     []bool
	// bin, when set, runs each node as a nats-server process of its own
	// (NATSClusterProcesses), which Kill ends with SIGKILL.
	bin   string
	procs []*natsProc // nil while stopped
}

// NATSCluster starts a cluster of n in-process nodes and waits until it
// has a JetStream leader and every node is current. The nodes shut down
// when the test ends.
func NATSCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return newCluster(t, n, "")
}

// NATSClusterProcesses is NATSCluster with each node a nats-server
// process of its own (the release go.mod names, installed like MinIO),
// so that Kill is kill -9 of a real server. Nodes is then empty: reach
// the nodes through URL.
func NATSClusterProcesses(t testing.TB, n int) *Cluster {
	t.Helper()
	bin, err := NATSServerBinary()
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	return newCluster(t, n, bin)
}

func newCluster(t testing.TB, n int, bin string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, cfgs: make([]natsembed.Config, n), nodes: make([]*natsembed.Server, n), proxies: make([]*routeProxy, n), cut: make([]bool, n),
		bin: bin, procs: make([]*natsProc, n)}
	for i := range c.proxies {
		c.proxies[i] = newRouteProxy(t, c, i)
	}
	for i := range c.cfgs {
		var routes []string
		for j, px := range c.proxies {
			if j != i {
				routes = append(routes, px.at)
			}
		}
		c.cfgs[i] = natsembed.Config{
			Dir: t.TempDir(), Port: -1, Name: fmt.Sprintf("n%d", i+1), SyncAlways: true,
			// Each node is named, and tells the others it is, at its
			// proxy, so no route goes around the proxies; one route per
			// pair keeps the count Cut checks simple.
			Cluster: &natsembed.Cluster{Name: "pressline-test", Listen: "127.0.0.1:-1", Routes: routes, Advertise: c.proxies[i].at, SingleRoute: true},
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range c.cfgs {
		wg.Go(func() { errs[i] = c.startNode(i) }) // a node waits for the others before it is ready
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	c.WaitCurrent()
	c.waitPlacement()
	return c
}

// waitPlacement waits until the cluster places a replicated stream: a
// node can say it is current before the others are known as peers.
func (c *Cluster) waitPlacement() {
	c.t.Helper()
	nc, err := nats.Connect(c.URL())
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := jetstream.StreamConfig{Name: "TESTENV_PROBE", Subjects: []string{"testenv.probe"}, Replicas: len(c.cfgs), Storage: jetstream.MemoryStorage}
	WaitFor(c.t, "the cluster to place a replicated stream", 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return false
		}
		_, err := js.Publish(ctx, "testenv.probe", nil)
		return err == nil && js.DeleteStream(ctx, cfg.Name) == nil
	})
}

// Nodes are the running nodes (nil for a stopped one).
func (c *Cluster) Nodes() []*natsembed.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

// URL is a client URL naming every node, so a connection moves to
// another node when its own goes away.
func (c *Cluster) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	urls := make([]string, len(c.cfgs))
	for i, cfg := range c.cfgs {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", cfg.Port)
	}
	return strings.Join(urls, ",")
}

// Cut cuts node i off from the others: its route connections drop and
// new ones are refused, while it and its clients' connections stay up.
// It returns once the node has no route left.
func (c *Cluster) Cut(i int) {
	c.t.Helper()
	c.setCut(i, true)
	WaitFor(c.t, fmt.Sprintf("node %d cut off", i+1), 10*time.Second, func() bool { return c.Routes(i) == 0 })
}

// Routes counts node i's route connections (0 when it is stopped).
func (c *Cluster) Routes(i int) int {
	c.mu.Lock()
	s, p := c.nodes[i], c.procs[i]
	c.mu.Unlock()
	switch {
	case s != nil:
		return s.NumRoutes()
	case p != nil:
		var rz struct {
			NumRoutes int `json:"num_routes"`
		}
		if p.monitor("/routez", &rz) != nil {
			return -1
		}
		return rz.NumRoutes
	}
	return 0
}

// nodeID is node i's server id, which it gives in its route handshake;
// "" while it is stopped.
func (c *Cluster) nodeID(i int) string {
	c.mu.Lock()
	s, p := c.nodes[i], c.procs[i]
	c.mu.Unlock()
	switch {
	case s != nil:
		return s.ID()
	case p != nil:
		return p.id
	}
	return ""
}

// Heal undoes Cut.
func (c *Cluster) Heal(i int) { c.setCut(i, false) }

func (c *Cluster) setCut(i int, cut bool) {
	id := c.nodeID(i)
	c.mu.Lock()
	c.cut[i] = cut
	c.mu.Unlock()
	if cut {
		for _, p := range c.proxies {
			p.drop(func(from string) bool { return p.target == i || from == id })
		}
	}
}

// isCut reports whether a route from the server with id to node target
// must not pass.
func (c *Cluster) isCut(fromID string, target int) bool {
	c.mu.Lock()
	cut := slices.Clone(c.cut)
	c.mu.Unlock()
	if cut[target] {
		return true
	}
	for i := range cut {
		if cut[i] && c.nodeID(i) == fromID {
			return true
		}
	}
	return false
}

// routeProxy stands in front of one node's route port. It reads the
// route handshake's CONNECT, which names the dialling server, and passes
// the connection on unless either end is cut off.
type routeProxy struct {
	c      *Cluster
	target int
	at     string // where the others dial
	mu     sync.Mutex
	conns  map[net.Conn]string // both ends of each connection, to the dialler's id
}

func newRouteProxy(t testing.TB, c *Cluster, target int) *routeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &routeProxy{c: c, target: target, at: ln.Addr().String(), conns: map[net.Conn]string{}}
	t.Cleanup(func() {
		ln.Close()
		p.drop(func(string) bool { return true })
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(in)
		}
	}()
	return p
}

func (p *routeProxy) forward(in net.Conn) {
	defer in.Close()
	out, err := net.Dial("tcp", p.c.routeAddr(p.target))
	if err != nil {
		return
	}
	defer out.Close()
	// The node speaks first (INFO); the dialler answers with CONNECT.
	go func() { _, _ = io.Copy(in, out) }()
	r := bufio.NewReader(in)
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	var connect struct {
		Name string `json:"name"`
	}
	if j, ok := strings.CutPrefix(strings.TrimSpace(line), "CONNECT "); ok {
		_ = json.Unmarshal([]byte(j), &connect)
	}
	if p.c.isCut(connect.Name, p.target) {
		return
	}
	p.mu.Lock()
	p.conns[in], p.conns[out] = connect.Name, connect.Name
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, in)
		delete(p.conns, out)
		p.mu.Unlock()
	}()
	if _, err := io.WriteString(out, line); err != nil {
		return
	}
	_, _ = io.Copy(out, r)
}

// drop closes the connections whose dialler matches.
func (p *routeProxy) drop(match func(fromID string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for conn, from := range p.conns {
		if match(from) {
			conn.Close()
		}
	}
}

// Stop shuts node i down.
func (c *Cluster) Stop(i int) { c.halt(i, syscall.SIGTERM) }

// Kill ends node i at once: kill -9 of a process node; for an
// in-process one, the same as Stop.
func (c *Cluster) Kill(i int) { c.halt(i, syscall.SIGKILL) }

func (c *Cluster) halt(i int, sig syscall.Signal) {
	c.mu.Lock()
	s, p := c.nodes[i], c.procs[i]
	c.nodes[i], c.procs[i] = nil, nil
	c.mu.Unlock()
	if s != nil {
		s.Close()
	}
	if p != nil {
		p.halt(sig)
	}
}

// Start starts node i again, on its ports and data.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if err := c.startNode(i); err != nil {
		c.t.Fatalf("node %d: %v", i+1, err)
	}
}

func (c *Cluster) startNode(i int) error {
	c.mu.Lock()
	running := c.nodes[i] != nil || c.procs[i] != nil
	cfg := c.cfgs[i]
	c.mu.Unlock()
	if running {
		return nil
	}
	if c.bin == "" {
		s, err := natsembed.Start(cfg)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.nodes[i] = s
		// A first start lets the server pick its ports (port -1), which
		// no other listener can take between choosing and binding; a
		// restart reuses them.
		c.cfgs[i].Port = s.Addr().(*net.TCPAddr).Port
		c.cfgs[i].Cluster.Listen = s.ClusterAddr().String()
		c.mu.Unlock()
		return nil
	}
	// A nats-server process is told its ports; a first start that loses
	// one to another listener (the process exits) tries fresh ones.
	fresh := cfg.Port == -1
	for try := 1; ; try++ {
		if fresh {
			client, err1 := freeAddr()
			route, err2 := freeAddr()
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			_, port, _ := net.SplitHostPort(client)
			cfg.Port, _ = strconv.Atoi(port)
			cl := *cfg.Cluster
			cl.Listen = route
			cfg.Cluster = &cl
		}
		p, err := startNATSProc(c.bin, cfg)
		if err != nil {
			if fresh && try < 3 {
				continue
			}
			return err
		}
		c.mu.Lock()
		c.procs[i], c.cfgs[i] = p, cfg
		c.mu.Unlock()
		return nil
	}
}

// routeAddr is node i's own route port.
func (c *Cluster) routeAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfgs[i].Cluster.Listen
}

// WaitCurrent waits until the running nodes have a JetStream leader and
// each is current. A node restarted under load catches up every stream
// and bucket in turn, which on a loaded CI machine under -race has taken
// over a minute: two minutes is the bound.
func (c *Cluster) WaitCurrent() {
	c.t.Helper()
	WaitFor(c.t, "a JetStream cluster with a leader and every node current", 2*time.Minute, func() bool {
		if c.bin != "" {
			return c.procsHealthy()
		}
		leader := false
		for _, s := range c.Nodes() {
			if s == nil {
				continue
			}
			if !s.JetStreamIsCurrent() {
				return false
			}
			leader = leader || s.JetStreamIsLeader()
		}
		return leader
	})
}

// procsHealthy: every running process node answers its health check,
// which is ok once its JetStream is current.
func (c *Cluster) procsHealthy() bool {
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	for _, p := range procs {
		if p != nil && p.monitor("/healthz", nil) != nil {
			return false
		}
	}
	return true
}
