// Package natsembed runs a NATS server with JetStream inside the current
// process, for `pressline dev` and for tests. It is the same server as in
// production, only started in-process.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
	return &Server{Server: s}, nil
}

// Close shuts the server down and waits for it to finish.
func (s *Server) Close() {
	s.Shutdown()
	s.WaitForShutdown()
}
