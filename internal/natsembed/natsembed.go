// Package natsembed runs a NATS server with JetStream inside the current
// process, for `pressline dev` and for tests. It is the same server as in
// production, only started in-process.
package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config says where JetStream keeps its data and how it is reached.
type Config struct {
	// Dir holds JetStream's file store. It must be absolute, because other
	// parts of a dev process (the embedded S3 server) change the working
	// directory.
	Dir string
	// Host and Port to listen on; Port -1 picks a free one.
	Host string
	Port int
	// SyncAlways fsyncs every write before acknowledging it, so an
	// acknowledged article survives a power cut; without it the server
	// syncs every two minutes and a crash of the machine can lose what was
	// acknowledged since.
	SyncAlways bool
	// Name identifies the server in a cluster; "pressline-dev" when empty.
	Name string
	// Token, when set, is the one credential clients must give.
	Token string
	// Authorization, when set, is a NATS configuration's authorization
	// block (users and their permissions, as deploy/nats has them), with
	// $VARIABLES read from the environment.
	Authorization string
	// Cluster, when set, makes the server one node of a JetStream cluster.
	Cluster *Cluster
	// Log hears about JetStream failing to write and being started
	// again; nil discards.
	Log *slog.Logger
	// RestartEvery is how often the server checks that JetStream can
	// write (it is on, and no stream holds a write error) and, when it
	// cannot and the disk has room, starts it again; 2 s when zero. A
	// JetStream switched off on purpose is started again too.
	RestartEvery time.Duration
}

// Cluster is what a node needs to find the others. Every node of one
// cluster has the same Name and Routes (its own address among them).
type Cluster struct {
	Name string
	// Listen is this node's route address (host:port).
	Listen string
	// Routes are every node's route address.
	Routes []string
	// Advertise, when set, is the route address this node tells the
	// others to reach it at, instead of Listen.
	Advertise string
	// SingleRoute keeps one route connection per pair of nodes (no pool,
	// no per-account routes), all to the addresses in Routes: what a
	// test that cuts routes between nodes needs.
	SingleRoute bool
}

// Server is a running NATS server.
type Server struct {
	*server.Server
	opts     *server.Options
	log      *slog.Logger
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	restarts atomic.Int64
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("natsembed: Dir %q must be absolute", cfg.Dir)
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Name == "" {
		cfg.Name = "pressline-dev"
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true, // the host process owns signal handling
		NoLog:      true,
		// Authorization is the token; empty leaves clients unchecked.
		Authorization: cfg.Token,
	}
	if c := cfg.Cluster; c != nil {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsembed: cluster listen %q: %w", c.Listen, err)
		}
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Advertise = c.Name, host, c.Advertise
		if c.SingleRoute {
			opts.Cluster.PoolSize = -1
		}
		if opts.Cluster.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("natsembed: cluster listen %q: %w", c.Listen, err)
		}
		for _, r := range c.Routes {
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats", Host: r})
		}
	}
	if cfg.Authorization != "" {
		path := filepath.Join(cfg.Dir, "authorization.conf")
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("natsembed: %w", err)
		}
		if err := os.WriteFile(path, []byte(cfg.Authorization), 0o600); err != nil {
			return nil, fmt.Errorf("natsembed: %w", err)
		}
		auth, err := server.ProcessConfigFile(path)
		if err != nil {
			return nil, fmt.Errorf("natsembed: authorization: %w", err)
		}
		opts.Users, opts.Nkeys = auth.Users, auth.Nkeys
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natsembed: server not ready after 10s")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RestartEvery <= 0 {
		cfg.RestartEvery = 2 * time.Second
	}
	srv := &Server{Server: s, opts: opts.Clone(), log: cfg.Log, stop: make(chan struct{}), done: make(chan struct{})}
	go srv.keepJetStream(cfg.Dir, cfg.RestartEvery)
	return srv, nil
}

// minFreeToRestart is the room JetStream is given before it is started
// again: a disk that is still full would switch it off at its first write.
const minFreeToRestart = 4 << 20

// keepJetStream starts JetStream again when a full disk has stopped it.
// nats-server reacts to ENOSPC in two ways, and neither ends by itself
// once the disk has room: a clustered node switches JetStream off; a
// single server marks the stream that failed with a write error it keeps
// returning (its publishes go unanswered) until the stream is opened
// again. Either way every publish fails and the pipeline would wait for
// ever. A reload with the same options, as `nats-server --signal reload`
// does for an operator, starts JetStream again on the store it left.
func (s *Server) keepJetStream(dir string, every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if !s.Running() {
			continue
		}
		reason := s.wedged()
		if reason == "" {
			continue
		}
		free, err := freeBytes(dir)
		if err != nil || free < minFreeToRestart {
			s.log.Error("nats: JetStream cannot write and its disk has no room; it starts again once there is", "reason", reason, "dir", dir, "free_bytes", free, "err", err)
			continue
		}
		s.log.Warn("nats: JetStream cannot write; starting it again", "reason", reason, "dir", dir, "free_bytes", free)
		if s.JetStreamEnabled() {
			if err := s.ShutdownJetStream(); err != nil {
				s.log.Error("nats: stopping JetStream", "err", err)
				continue
			}
		}
		if err := s.ReloadOptions(s.opts.Clone()); err != nil || !s.JetStreamEnabled() {
			s.log.Error("nats: JetStream did not start again", "err", err)
			continue
		}
		s.restarts.Add(1)
		s.log.Info("nats: JetStream is back")
	}
}

// wedged says why JetStream cannot write, or "" when it can.
func (s *Server) wedged() string {
	if !s.JetStreamEnabled() {
		return "JetStream switched itself off"
	}
	if s.opts.Cluster.Port != 0 {
		return "" // a node of a cluster switches JetStream off instead
	}
	for _, e := range s.Healthz(&server.HealthzOptions{Details: true}).Errors {
		if strings.Contains(e.Error, "write error") {
			return e.Error
		}
	}
	return ""
}

// JetStreamRestarts counts the times JetStream was started again because
// it could not write.
func (s *Server) JetStreamRestarts() int64 { return s.restarts.Load() }

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Close shuts the server down and waits for it to finish.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.Shutdown()
	s.WaitForShutdown()
}
