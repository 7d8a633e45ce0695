// Package natsembed runs a NATS server with JetStream inside the current
// process, for `pressline dev` and for tests. It is the same server as in
// production, only started in-process.
package natsembed

import (
	"errors"
	"fmt"
	"path/filepath"
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
	opts := &server.Options{
		ServerName: "pressline-dev",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true, // the host process owns signal handling
		NoLog:      true,
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
