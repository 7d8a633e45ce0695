package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/natsembed"
	"github.com/pressline/pressline/pkg/s3embed"
	"github.com/pressline/pressline/services/publish"
)

// Development credentials of the embedded S3 server; it listens on
// loopback only.
const devS3Access, devS3Secret = "pressline-dev", "pressline-dev-secret"

// devNewsroom is the newsroom `pressline dev` creates when none is
// configured; its token is kept in the data folder across restarts.
const devNewsroom = "dev"

// cmdDev runs the whole pipeline in one process on embedded NATS and S3.
func cmdDev(ctx context.Context, args []string) error {
	cfg, fs, err := parseConfig("dev", args, "pressline dev [flags]")
	if err != nil {
		return err
	}
	if cfg.S3AccessKey == "" {
		cfg.S3AccessKey, cfg.S3SecretKey = devS3Access, devS3Secret
	}
	if !isSet(fs, "log-format") && os.Getenv(config.EnvName("log-format")) == "" {
		cfg.LogFormat = "text"
	}
	if err := cfg.Validate(false); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	// The embedded S3 server changes the working directory: every path
	// must be absolute before it starts.
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	token := ""
	if len(cfg.Newsrooms) == 0 {
		if token, err = devToken(dataDir); err != nil {
			return err
		}
		cfg.Newsrooms = []config.Newsroom{{Name: devNewsroom, TokenHash: config.HashToken(token), Sites: []string{devNewsroom}}}
	}
	log := newLogger(cfg.LogFormat)

	natsHost, natsPort, err := hostPort(cfg.NATSURL)
	if err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	ns, s3, err := startEmbedded(ctx, dataDir,
		natsembed.Config{Host: natsHost, Port: natsPort, SyncAlways: cfg.SyncAlways},
		s3embed.Config{Addr: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey})
	if err != nil {
		return err
	}
	defer ns.Close()
	defer s3.Close()

	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	runners, err := d.build(ctx, allServices)
	if err != nil {
		return err
	}
	runners = append(runners,
		d.opsRunner(cfg.OpsAddr),
		httpRunner("site", cfg.SiteAddr, publish.SiteHandler(d.blobs, log), log))

	fmt.Printf(`Pressline is running (Ctrl-C stops it).
  editors' page  http://%[1]s/
  ingest API     http://%[1]s/v1/articles
  published site %[2]s/%[3]s/   (feeds: rss.xml, atom.xml, feed.json, sitemap-news.xml)
  metrics        http://%[4]s/metrics
  NATS           %[5]s   (JetStream data in %[6]s)
  S3             http://%[7]s   (data in %[8]s)
  downstream     go run ./examples/downstream-site --nats %[5]s --site %[3]s --dir ./mirror
`, cfg.HTTPAddr, strings.TrimSuffix(cfg.SiteURL, "/"), devNewsroom, cfg.OpsAddr, ns.ClientURL(), filepath.Join(dataDir, "nats"), s3.Endpoint, filepath.Join(dataDir, "s3"))
	if token != "" {
		fmt.Printf("  newsroom %q token: %s\n  try: pressline submit --wait ../shared/samples/quoc-oai.txt\n", devNewsroom, token)
	}
	return runAll(ctx, log, runners)
}

// startEmbedded starts the embedded NATS and S3 servers with their data
// under dataDir, laid out as pressline dev keeps it (the S3 metadata folder
// must not share a prefix with the data folder: see pkg/s3embed).
func startEmbedded(ctx context.Context, dataDir string, nc natsembed.Config, sc s3embed.Config) (*natsembed.Server, *s3embed.Server, error) {
	nc.Dir = filepath.Join(dataDir, "nats")
	sc.Dir, sc.MetaDir = filepath.Join(dataDir, "s3"), filepath.Join(dataDir, "meta-s3")
	ns, err := natsembed.Start(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded NATS on %s:%d (is another pressline dev running?): %w", nc.Host, nc.Port, err)
	}
	s3, err := s3embed.Start(ctx, sc)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("start embedded S3 on %s: %w", sc.Addr, err)
	}
	return ns, s3, nil
}

// devToken reads the development newsroom's token, making one the first
// time, so `pressline submit` can find it without being told.
func devToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "dev-token")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	token := "dev_" + hex.EncodeToString(raw)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

func hostPort(rawURL string) (string, int, error) {
	u, err := url.Parse(strings.Split(rawURL, ",")[0])
	if err != nil {
		return "", 0, err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	return host, p, err
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
