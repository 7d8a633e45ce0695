// Package apptest runs Pressline's services on real servers for tests:
// each Env is one in-process NATS server with JetStream and one MinIO
// process, and pipelines start and stop on it as processes would on real
// infrastructure. Nothing here is a mock.
package apptest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Newsroom and Token are the newsroom every Env configures.
const (
	Newsroom = "quocoai"
	Token    = "test-token-0123456789"
)

// Env is one NATS server and one MinIO server, and the configuration
// pipelines on them run with; a test changes Config before Start.
type Env struct {
	Config *config.Config
	JS     jetstream.JetStream
	S3     *blob.Store
	// NATSURL is the server's client URL.
	NATSURL string
	// Cluster is the NATS cluster of NewCluster, for a test to stop and
	// start its nodes; nil for New.
	Cluster *testenv.Cluster
}

// New starts the servers, with the newsroom publishing to sites and each
// stage handling workers messages at once.
func New(t testing.TB, sites []string, workers int) *Env {
	t.Helper()
	srv, _ := testenv.NATS(t)
	return newEnv(t, srv.ClientURL(), 1, sites, workers)
}

// NewCluster is New on a three-node JetStream cluster, with every stream
// and bucket replicated three times; each process connects to a node
// chosen at random.
func NewCluster(t testing.TB, sites []string, workers int) *Env {
	t.Helper()
	c := testenv.NATSCluster(t, 3)
	e := newEnv(t, c.URL(), 3, sites, workers)
	e.Cluster = c
	return e
}

func newEnv(t testing.TB, natsURL string, replicas int, sites []string, workers int) *Env {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s3cfg := testenv.MinIO(t)
	cfg := config.Default()
	cfg.NATSURL, cfg.Replicas = natsURL, replicas
	cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3Bucket = s3cfg.Endpoint, s3cfg.AccessKey, s3cfg.SecretKey, s3cfg.Bucket
	cfg.HTTPAddr = testenv.FreeAddr(t)
	cfg.Newsrooms = []config.Newsroom{{Name: Newsroom, TokenHash: config.HashToken(Token), Sites: sites}}
	cfg.SiteURL, cfg.Workers, cfg.InlineLimit = "http://news.test", workers, 4096
	cfg.RatePerSecond = 0 // these tests load the pipeline on purpose
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := blob.New(context.Background(), s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Config: &cfg, JS: js, S3: s3, NATSURL: natsURL}
}

// Start runs every service, as `pressline run` runs them, until Stop or
// the end of the test.
func (e *Env) Start(t testing.TB) *app.Pipeline {
	t.Helper()
	if err := e.Config.Check(true); err != nil {
		t.Fatal(err)
	}
	return e.start(t, app.Services)
}

// StartMore runs the named services as one more process on the same
// servers and configuration (not ingest: its address is taken), until
// the end of the test: a second publish, a second clean.
func (e *Env) StartMore(t testing.TB, names []string) *app.Pipeline {
	t.Helper()
	if slices.Contains(names, "ingest") {
		t.Fatal("StartMore: one ingest per Env")
	}
	return e.start(t, names)
}

// StartWith runs the named services and extra runners built on the same
// process (a stage the test wires itself), until the end of the test.
func (e *Env) StartWith(t testing.TB, names []string, extra ...func(*app.Process) app.Runner) *app.Pipeline {
	t.Helper()
	if err := e.Config.Check(true); err != nil {
		t.Fatal(err)
	}
	return e.start(t, names, extra...)
}

func (e *Env) start(t testing.TB, names []string, extra ...func(*app.Process) app.Runner) *app.Pipeline {
	t.Helper()
	p, err := app.Start(context.Background(), e.Config, slog.New(slog.DiscardHandler), names, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})
	return p
}

// API is the newsroom's client of the ingest API.
func (e *Env) API() *client.Client {
	return &client.Client{Server: "http://" + e.Config.HTTPAddr, Token: Token}
}

// Submit sends a plain-text article and returns its id.
func (e *Env) Submit(t testing.TB, body []byte) string {
	t.Helper()
	return e.SubmitAs(t, client.Submission{Body: body, ContentType: "text/plain; charset=utf-8"})
}

// SubmitAs sends a submission, which must be accepted (202), and returns
// its id.
func (e *Env) SubmitAs(t testing.TB, s client.Submission) string {
	t.Helper()
	acc, err := e.API().Submit(context.Background(), s)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if acc.ID == "" || acc.Version < 1 || acc.StatusURL != client.ArticlePath(acc.ID) || acc.Repeat {
		t.Fatalf("202 body = %+v", acc)
	}
	return acc.ID
}

// Publication is one event on the sites' stream and when it was stored.
type Publication struct {
	Event *pb.ArticlePublished
	At    time.Time
}

// Publications reads every publication event so far, by article id. An
// event on a subject that does not match its body fails the test.
func (e *Env) Publications(t testing.TB) map[string][]Publication {
	t.Helper()
	ctx := context.Background()
	c, err := e.JS.OrderedConsumer(ctx, layout.StreamSites, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.AllSites}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Publication{}
	for {
		msgs, err := c.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			ev := &pb.ArticlePublished{}
			if err := proto.Unmarshal(m.Data(), ev); err != nil {
				t.Fatal(err)
			}
			if m.Subject() != layout.SiteSubject(ev.Site, events.KindOf(ev.Kind)) {
				t.Errorf("%v event for site %s on subject %s", ev.Kind, ev.Site, m.Subject())
			}
			meta, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			id := ev.GetArticle().GetId()
			out[id] = append(out[id], Publication{Event: ev, At: meta.Timestamp})
		}
		if n == 0 {
			return out
		}
	}
}

// Published is Publications without the times.
func (e *Env) Published(t testing.TB) map[string][]*pb.ArticlePublished {
	out := map[string][]*pb.ArticlePublished{}
	for id, ps := range e.Publications(t) {
		for _, p := range ps {
			out[id] = append(out[id], p.Event)
		}
	}
	return out
}

// GetJSON sends an authenticated GET and decodes the answer into out
// (when not nil); it returns the status code.
func (e *Env) GetJSON(t testing.TB, url string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TryGet is a GET whose failure is only an empty answer, for polling.
func TryGet(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return ""
	}
	return string(b)
}
