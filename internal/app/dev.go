package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/natsembed"
	"github.com/pressline/pressline/internal/s3embed"
)

// DevNewsroom is the newsroom `pressline dev` creates when none is
// configured; its token is kept in the data folder across restarts, and
// it publishes to a site of the same name.
const DevNewsroom = "dev"

// DevSecrets are the credentials of a data folder's embedded servers:
// made at random the first time and kept in the folder, so that another
// user of the machine (the servers listen on loopback, which every local
// user reaches) cannot read or forge what the pipeline keeps.
type DevSecrets struct {
	S3AccessKey string `json:"s3_access_key"`
	S3SecretKey string `json:"s3_secret_key"`
	NATSToken   string `json:"nats_token"`
	// OperatorToken is for the webhooks API (/v1/webhooks).
	OperatorToken string `json:"operator_token"`
}

// DevSecretsFile is where a data folder's DevSecrets are kept.
func DevSecretsFile(dataDir string) string { return filepath.Join(dataDir, "dev-secrets.json") }

// ReadDevSecrets returns the data folder's secrets, making them the
// first time.
func ReadDevSecrets(dataDir string) (DevSecrets, error) {
	var sec DevSecrets
	path := DevSecretsFile(dataDir)
	b, err := os.ReadFile(path)
	if err == nil && json.Unmarshal(b, &sec) == nil && sec.S3SecretKey != "" && sec.NATSToken != "" && sec.OperatorToken != "" {
		return sec, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sec, err
	}
	// A folder from before a secret existed keeps the ones it has: its
	// servers' data was written with them.
	if sec.S3SecretKey == "" || sec.NATSToken == "" {
		sec = DevSecrets{S3AccessKey: "dev-" + randomHex(8), S3SecretKey: randomHex(24), NATSToken: randomHex(24)}
	}
	sec.OperatorToken = randomHex(24)
	if b, err = json.MarshalIndent(sec, "", "  "); err != nil {
		return sec, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return sec, err
	}
	return sec, os.WriteFile(path, append(b, '\n'), 0o600)
}

func randomHex(n int) string {
	raw := make([]byte, n)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	return hex.EncodeToString(raw)
}

// DevDefaults fills in what `pressline dev` makes itself: the embedded
// servers' credentials, from the data folder, where none are set.
func DevDefaults(cfg *config.Config, dataDir string) error {
	sec, err := ReadDevSecrets(dataDir)
	if err != nil {
		return fmt.Errorf("the data folder's credentials: %w", err)
	}
	if cfg.S3AccessKey == "" {
		cfg.S3AccessKey, cfg.S3SecretKey = sec.S3AccessKey, sec.S3SecretKey
	}
	if cfg.NATSToken == "" {
		cfg.NATSToken = sec.NATSToken
	}
	if len(cfg.Operators) == 0 {
		cfg.Operators = []config.Operator{{TokenHash: config.HashToken(sec.OperatorToken)}}
	}
	return nil
}

// Dev runs the whole pipeline in this process on embedded NATS and S3,
// with their data under cfg.DataDir, and prints where everything is to
// out, until ctx is cancelled.
func Dev(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	// The embedded S3 server changes the working directory: every path
	// must be absolute before it starts.
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := DevDefaults(cfg, dataDir); err != nil {
		return err
	}
	token := ""
	if len(cfg.Newsrooms) == 0 {
		if token, err = DevToken(dataDir); err != nil {
			return err
		}
		cfg.Newsrooms = []config.Newsroom{{Name: DevNewsroom, TokenHash: config.HashToken(token), Sites: []string{DevNewsroom}}}
	}
	natsHost, natsPort, err := hostPort(cfg.NATSURL)
	if err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	emb, err := StartEmbedded(ctx, dataDir,
		natsembed.Config{Host: natsHost, Port: natsPort, SyncAlways: cfg.SyncAlways, Token: cfg.NATSToken, Log: log},
		s3embed.Config{Addr: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey})
	if err != nil {
		return err
	}
	defer emb.Close()

	p, err := Connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	runners, err := p.Build(ctx, Services)
	if err != nil {
		return err
	}
	runners = append(runners, p.Ops(), p.Site())

	fmt.Fprintf(out, `Pressline is running (Ctrl-C stops it).
  console        http://%[1]s/
  ingest API     http://%[1]s/v1/articles
  published site %[2]s/%[3]s/   (feeds: rss.xml, atom.xml, feed.json, sitemap-news.xml)
  metrics        http://%[4]s/metrics
  NATS           %[5]s   (JetStream data in %[6]s; token in %[9]s)
  S3             http://%[7]s   (data in %[8]s; keys in %[9]s)
  webhooks API   http://%[1]s/v1/webhooks   (operator token: jq -r .operator_token %[9]s)
  downstream     go run ./examples/downstream-site --nats nats://$(jq -r .nats_token %[9]s)@%[10]s --site %[3]s --dir ./mirror
`, cfg.HTTPAddr, strings.TrimSuffix(cfg.SiteURL, "/"), DevNewsroom, cfg.OpsAddr, emb.NATS.ClientURL(), filepath.Join(dataDir, "nats"), emb.S3.Endpoint, filepath.Join(dataDir, "s3"),
		DevSecretsFile(dataDir), strings.TrimPrefix(emb.NATS.ClientURL(), "nats://"))
	if token != "" {
		fmt.Fprintf(out, "  newsroom %q token: %s\n  try: pressline submit --wait ../shared/samples/quoc-oai.txt\n", DevNewsroom, token)
	}
	return RunAll(ctx, log, runners)
}

// Embedded is the embedded NATS and S3 servers of a data folder.
type Embedded struct {
	NATS      *natsembed.Server
	S3        *s3embed.Server
	natsToken string
}

// StartEmbedded starts the embedded NATS and S3 servers with their data
// under dataDir, laid out as pressline dev keeps it (the S3 metadata folder
// must not share a prefix with the data folder: see internal/s3embed). An
// S3 config without credentials gets the data folder's (DevSecrets).
func StartEmbedded(ctx context.Context, dataDir string, nc natsembed.Config, sc s3embed.Config) (*Embedded, error) {
	nc.Dir = filepath.Join(dataDir, "nats")
	sc.Dir, sc.MetaDir = filepath.Join(dataDir, "s3"), filepath.Join(dataDir, "meta-s3")
	if sc.AccessKey == "" {
		sec, err := ReadDevSecrets(dataDir)
		if err != nil {
			return nil, err
		}
		sc.AccessKey, sc.SecretKey = sec.S3AccessKey, sec.S3SecretKey
	}
	ns, err := natsembed.Start(nc)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS on %s:%d (is another pressline dev running?): %w", nc.Host, nc.Port, err)
	}
	s3, err := s3embed.Start(ctx, sc)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("start embedded S3 on %s: %w", sc.Addr, err)
	}
	return &Embedded{NATS: ns, S3: s3, natsToken: nc.Token}, nil
}

// Config points a configuration at the embedded servers.
func (e *Embedded) Config(cfg *config.Config) {
	cfg.NATSURL, cfg.NATSToken = e.NATS.ClientURL(), e.natsToken
	cfg.S3Endpoint = e.S3.Endpoint
	cfg.S3AccessKey, cfg.S3SecretKey = e.S3.AccessKey, e.S3.SecretKey
}

// Close stops both servers.
func (e *Embedded) Close() {
	e.S3.Close()
	e.NATS.Close()
}

// DevToken reads the development newsroom's token, making one the first
// time, so `pressline submit` can find it without being told.
func DevToken(dataDir string) (string, error) {
	path := DevTokenFile(dataDir)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	token := "dev_" + randomHex(24)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

// DevTokenFile is where DevToken keeps the token.
func DevTokenFile(dataDir string) string { return filepath.Join(dataDir, "dev-token") }

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
