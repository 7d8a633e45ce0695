package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/natsembed"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// chaos is the pipeline as production runs it: each service its own OS
// process (`pressline run SERVICE`), a NATS server and a MinIO process,
// under a steady load of articles, while the test breaks things.
type chaos struct {
	t       *testing.T
	bin     string
	env     []string
	natsDir string
	natsPrt int
	ns      *natsembed.Server
	minio   *testenv.MinIOServer
	token   string
	api     string
	procs   map[string]*exec.Cmd
	logs    map[string]*bytes.Buffer
	mu      sync.Mutex
	// accepted is every article the API answered 202 (or 200 for a
	// repeat) for: each must end published once, or as a dead letter.
	accepted map[string]bool
	// tried counts submissions; the difference is what the faults
	// refused (ingest down, NATS or S3 away), which is not lost: the
	// sender was told.
	tried int
}

// TestChaos runs the fault tests of the prove-it issue. In CI (and `make
// test`) a shorter subset runs; `make chaos` sets PRESSLINE_CHAOS=full for
// the 30-second S3 outage and more load.
func TestChaos(t *testing.T) {
	full := os.Getenv("PRESSLINE_CHAOS") == "full"
	outage, perSecond := 10*time.Second, 8
	if full {
		outage, perSecond = 30*time.Second, 15
	}
	c := startChaos(t)
	stopLoad := c.load(perSecond)
	time.Sleep(3 * time.Second)

	// (1) kill -9 each service in turn under load, then restart it.
	for _, name := range allServices {
		c.kill(name)
		time.Sleep(2 * time.Second)
		c.start(name)
		time.Sleep(2 * time.Second)
	}
	// (2) restart the NATS server under load.
	c.ns.Close()
	time.Sleep(2 * time.Second)
	c.startNATS()
	time.Sleep(3 * time.Second)
	// (3) stop MinIO under load.
	c.minio.Stop()
	time.Sleep(outage)
	c.minio.Start()
	time.Sleep(3 * time.Second)
	stopLoad()

	// (4) a poison article that makes clean fail for good.
	b, nc := c.bus()
	defer nc.Close()
	poison := &pb.ArticleRef{Id: "01CHAOSPOISON000000000000", Version: 1, Newsroom: "chaos", Sites: []string{"front"}}
	if err := b.Publish(context.Background(), bus.SubjectReceived, bus.MsgID(poison, "received"), poison,
		&pb.ArticleReceived{Article: poison, OriginalKey: "originals/none",
			Original: &pb.Payload{Location: &pb.Payload_BlobKey{BlobKey: "originals/none"}}}); err != nil {
		t.Fatal(err)
	}
	// (5) duplicate submissions, and forced redeliveries of articles
	// already published.
	c.duplicates(10)
	c.waitSettled(b, 5*time.Minute)
	c.redeliver(b, 10)
	time.Sleep(5 * time.Second)
	c.waitSettled(b, 2*time.Minute)

	c.verify(b, poison.Id)
}

func startChaos(t *testing.T) *chaos {
	t.Helper()
	dir := t.TempDir()
	bin := pressline(t)
	c := &chaos{t: t, bin: bin, natsDir: filepath.Join(dir, "nats"), procs: map[string]*exec.Cmd{}, logs: map[string]*bytes.Buffer{},
		accepted: map[string]bool{}, token: "chaos-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.natsPrt = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.startNATS()
	t.Cleanup(func() { c.ns.Close() })
	c.minio = testenv.StartMinIO(t)
	httpAddr := testenv.FreeAddr(t)
	c.api = "http://" + httpAddr
	c.env = append(os.Environ(),
		"PRESSLINE_NATS_URL="+c.ns.ClientURL(),
		"PRESSLINE_S3_ENDPOINT="+c.minio.Config.Endpoint, "PRESSLINE_S3_ACCESS_KEY="+c.minio.Config.AccessKey,
		"PRESSLINE_S3_SECRET_KEY="+c.minio.Config.SecretKey, "PRESSLINE_S3_BUCKET="+c.minio.Config.Bucket,
		"PRESSLINE_HTTP_ADDR="+httpAddr, "PRESSLINE_NEWSROOMS=chaos:"+c.token+":front", "PRESSLINE_RATE_PER_SECOND=0",
		// A killed process's messages come back after AckWait.
		"PRESSLINE_ACK_WAIT=5s", "PRESSLINE_WORKERS=4", "PRESSLINE_LOG_FORMAT=text")
	for _, name := range allServices {
		c.start(name)
	}
	t.Cleanup(func() {
		for _, name := range allServices {
			c.kill(name)
		}
		if t.Failed() {
			for name, l := range c.logs {
				t.Logf("--- %s log (last 3000 bytes):\n%s", name, tail(l.String(), 3000))
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if conn, err := net.Dial("tcp", httpAddr); err == nil {
			conn.Close()
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (c *chaos) startNATS() {
	ns, err := natsembed.Start(natsembed.Config{Dir: c.natsDir, Port: c.natsPrt, SyncAlways: true})
	if err != nil {
		c.t.Fatal(err)
	}
	c.ns = ns
}

// start runs one service as its own process.
func (c *chaos) start(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := exec.Command(c.bin, "run", name)
	cmd.Env = append(append([]string{}, c.env...), "PRESSLINE_OPS_ADDR="+testenv.FreeAddr(c.t))
	if c.logs[name] == nil {
		c.logs[name] = &bytes.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = syncWriter{&c.mu, c.logs[name]}, syncWriter{&c.mu, c.logs[name]}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[name] = cmd
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// kill is kill -9: no draining, no goodbye.
func (c *chaos) kill(name string) {
	c.mu.Lock()
	cmd := c.procs[name]
	delete(c.procs, name)
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// submit posts one article; only a 202 (or 200 for a repeat) counts.
func (c *chaos) submit(body []byte, contentType, idempotencyKey string) (string, bool) {
	c.mu.Lock()
	c.tried++
	c.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, c.api+"/v1/articles", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", contentType)
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var acc struct{ ID string }
	if (resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK) || json.NewDecoder(resp.Body).Decode(&acc) != nil {
		return "", false
	}
	c.mu.Lock()
	c.accepted[acc.ID] = true
	c.mu.Unlock()
	return acc.ID, true
}

// load sends perSecond articles a second (one in five with a photo)
// until stopped, counting what was accepted.
func (c *chaos) load(perSecond int) (stop func()) {
	photo, err := os.ReadFile("../../pkg/imaging/testdata/photo.jpg")
	if err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second / time.Duration(perSecond))
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			text := fmt.Appendf(nil, "Bài số %d trong thử nghiệm sự cố\n\nNội dung bài viết số %d, đủ dài để là một bài.\n\nĐoạn thứ hai của bài.\n", i, i)
			wg.Go(func() {
				if i%5 == 0 {
					ct, body, err := withPhotos(text, photo, 1, i)
					if err == nil {
						c.submit(body, ct, "")
					}
					return
				}
				c.submit(text, "text/plain; charset=utf-8", "")
			})
		}
	})
	return func() { close(done); wg.Wait() }
}

// duplicates sends n articles twice at once under one Idempotency-Key:
// each must become one article.
func (c *chaos) duplicates(n int) {
	for i := range n {
		key := fmt.Sprintf("chaos-dup-%d", i)
		body := fmt.Appendf(nil, "Bài gửi hai lần %d\n\nNội dung bài gửi trùng số %d.\n", i, i)
		ids := make([]string, 2)
		var wg sync.WaitGroup
		for j := range 2 {
			wg.Go(func() { ids[j], _ = c.submit(body, "text/plain; charset=utf-8", key) })
		}
		wg.Wait()
		if ids[0] != ids[1] || ids[0] == "" {
			c.t.Errorf("duplicate %d became %q and %q", i, ids[0], ids[1])
		}
	}
}

// bus connects the test to NATS, as any other client.
func (c *chaos) bus() (*bus.Bus, *nats.Conn) {
	nc, err := nats.Connect(c.ns.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return b, nc
}

// waitSettled waits until every accepted article is published or failed.
func (c *chaos) waitSettled(b *bus.Bus, timeout time.Duration) {
	c.t.Helper()
	st, err := status.Open(context.Background(), b.JetStream(), 1)
	if err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		ids := make([]string, 0, len(c.accepted))
		for id := range c.accepted {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		var waiting []string
		for _, id := range ids {
			s, err := st.Get(context.Background(), id)
			if err != nil || (s.GetState() != status.Published && s.GetState() != status.Failed) {
				waiting = append(waiting, id+" "+s.GetState())
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d accepted articles never settled, e.g. %v", len(waiting), len(ids), waiting[:min(5, len(waiting))])
		}
		time.Sleep(time.Second)
	}
}

// redeliver sends n articles' original events through the pipeline again
// under fresh message ids, as a replay or a redelivery after the
// duplicate window would.
func (c *chaos) redeliver(b *bus.Bus, n int) {
	ctx := context.Background()
	s, err := b.JetStream().Stream(ctx, bus.StreamArticles)
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	sent := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && sent < n; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil || raw.Subject != bus.SubjectReceived {
			continue
		}
		msg := &nats.Msg{Subject: raw.Subject, Data: raw.Data, Header: nats.Header{}}
		for k, v := range raw.Header {
			if k != jetstream.MsgIDHeader {
				msg.Header[k] = v
			}
		}
		if _, err := b.JetStream().PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("chaos-redeliver/%d", seq))); err != nil {
			c.t.Fatal(err)
		}
		sent++
	}
	if sent < n {
		c.t.Fatalf("only %d events to redeliver", sent)
	}
}

// verify checks every accepted article: published exactly once, or a dead
// letter with its reason; and the poison article is one.
func (c *chaos) verify(b *bus.Bus, poisonID string) {
	t := c.t
	ctx := context.Background()
	st, err := status.Open(ctx, b.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	s, err := b.JetStream().Stream(ctx, bus.StreamSites)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev pb.ArticlePublished
		if proto.Unmarshal(raw.Data, &ev) == nil {
			events[fmt.Sprintf("%s v%d %s %s", ev.GetArticle().GetId(), ev.GetArticle().GetVersion(), ev.GetSite(), raw.Subject)]++
		}
	}
	dead := map[string]string{}
	for rec, err := range b.DeadLetters(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		dead[rec.ArticleId] = rec.Error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	published, failed := 0, 0
	for id := range c.accepted {
		a, err := st.Get(ctx, id)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		switch a.GetState() {
		case status.Published:
			published++
			key := fmt.Sprintf("%s v1 front pressline.site.front.published", id)
			if events[key] != 1 {
				t.Errorf("%s published %d times", id, events[key])
			}
		case status.Failed:
			failed++
			if dead[id] == "" {
				t.Errorf("%s failed (%s) without a dead letter", id, a.GetError())
			}
		}
	}
	for key, n := range events {
		if n > 1 {
			t.Errorf("event %s stored %d times", key, n)
		}
	}
	if !strings.Contains(dead[poisonID], "not found") {
		t.Errorf("the poison article's dead letter: %q", dead[poisonID])
	}
	t.Logf("%d submissions, %d refused during faults (the sender was told); %d accepted: %d published once each, %d failed with a dead letter; %d dead letters in all",
		c.tried, c.tried-len(c.accepted), len(c.accepted), published, failed, len(dead))
	if published < 50 {
		t.Errorf("only %d articles published under load", published)
	}
}
