package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/natsembed"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestServicesUnderTheirOwnNATSUsers runs every service as its own
// process-like unit with its own NATS user, under the authorization
// block deploy/nats/auth.conf is made from: an article with a photo is
// published, corrected and withdrawn, and a webhook delivered, with no
// permission refused; then each service tries what is not its job and is
// refused.
func TestServicesUnderTheirOwnNATSUsers(t *testing.T) {
	mirror := app.Downstream{User: "site-front", Site: "front", Durable: "mirror-front"}
	auth, err := app.NATSAuthConfig(mirror)
	if err != nil {
		t.Fatal(err)
	}
	password := map[string]string{}
	for _, u := range append(append([]string{}, app.Services...), "operator", mirror.User) {
		password[u] = "pw-" + u + "-" + strings.Repeat("x", 16)
		t.Setenv(app.PasswordEnv(u), password[u])
	}
	srv, err := natsembed.Start(natsembed.Config{Dir: t.TempDir(), Port: -1, Authorization: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if nc, err := nats.Connect(srv.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was taken")
	}

	var delivered atomic.Int32
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	s3 := testenv.MinIO(t)
	base := config.Default()
	base.NATSURL, base.Replicas = srv.ClientURL(), 1
	base.S3Endpoint, base.S3AccessKey, base.S3SecretKey, base.S3Bucket = s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Bucket
	base.HTTPAddr = testenv.FreeAddr(t)
	base.Newsrooms = []config.Newsroom{{Name: apptest.Newsroom, TokenHash: config.HashToken(apptest.Token), Sites: []string{"front"}}}
	base.SiteURL, base.Workers, base.RatePerSecond = "http://news.test", 2, 0
	base.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	base.SiteReaders = []config.SiteReader{{Site: "front", TokenHash: config.HashToken("front-reader-0123456789")}}
	base.Operators = []config.Operator{{TokenHash: config.HashToken("operator-0123456789")}}
	base.Webhooks = []config.Webhook{{Name: "partner", URL: receiver.URL, Secret: secret, Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	logs := &testenv.LockedBuffer{} // ERROR lines: permission violations come back asynchronously
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	for _, svc := range app.Services {
		cfg := base
		cfg.NATSUser, cfg.NATSPassword, cfg.ServiceName = svc, password[svc], "pressline-"+svc
		p, err := app.Start(context.Background(), &cfg, log, []string{svc})
		if err != nil {
			t.Fatalf("%s under its own user: %v\n%s", svc, err, logs)
		}
		t.Cleanup(func() { _ = p.Stop() })
		// Readiness writes to JetStream: refused, it would keep the
		// service out of service for ever.
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.Bus.Ping(pctx); err != nil {
			t.Errorf("%s's readiness under its own user: %v", svc, err)
		}
		cancel()
	}

	api := &client.Client{Server: "http://" + base.HTTPAddr, Token: apptest.Token}
	ctx := context.Background()
	photo, err := os.ReadFile("../imaging/testdata/photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	sub := client.Submission{Body: []byte("Tin có ảnh\n\nMột bài viết có ảnh, đi qua mọi công đoạn dưới quyền của riêng nó.\n"),
		ContentType: "text/plain; charset=utf-8", ExternalID: "perm-1", Files: []client.File{{Name: "anh.jpg", Data: photo}}}
	acc, err := api.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	follow := func(what string) {
		t.Helper()
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := api.Follow(fctx, acc.ID, 50*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("%s: %v (%v)\n%s", what, err, st.GetState(), logs)
		}
	}
	follow("published")
	sub.Body = []byte("Tin có ảnh, đã sửa\n\nMột bài viết có ảnh, đi qua mọi công đoạn dưới quyền của riêng nó, bản sửa.\n")
	if _, err := api.Submit(ctx, sub); err != nil {
		t.Fatal(err)
	}
	follow("corrected")
	// The newsroom's list is an index that watches the status bucket
	// under ingest's user.
	testenv.WaitFor(t, "the corrected article in the newsroom's list", 20*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+base.HTTPAddr+client.ArticlesPath, nil)
		req.Header.Set("Authorization", "Bearer "+api.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Articles []struct{ Article struct{ Version int } }
		}
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&list) == nil && len(list.Articles) == 1 && list.Articles[0].Article.Version == 2
	})
	// The content API's index follows the sites' events under ingest's
	// user: the article is listed, corrected.
	testenv.WaitFor(t, "the corrected article in the site's list", 20*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+base.HTTPAddr+"/v1/sites/front/articles", nil)
		req.Header.Set("Authorization", "Bearer front-reader-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct{ Articles []struct{ Version int } }
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&list) == nil && len(list.Articles) == 1 && list.Articles[0].Version == 2
	})
	if _, err := api.Withdraw(ctx, acc.ID, "permissions test"); err != nil {
		t.Fatal(err)
	}
	follow("withdrawn")
	testenv.WaitFor(t, "three webhook deliveries", 20*time.Second, func() bool { return delivered.Load() >= 3 })
	// The content API reads the site's events under ingest's user.
	req, _ := http.NewRequest(http.MethodGet, "http://"+base.HTTPAddr+"/v1/sites/front/changes", nil)
	req.Header.Set("Authorization", "Bearer front-reader-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var changes struct{ Changes []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&changes); err != nil || resp.StatusCode != 200 || len(changes.Changes) != 3 {
		t.Errorf("site changes under ingest's user: %d, %d changes, %v; want 200 and 3", resp.StatusCode, len(changes.Changes), err)
	}
	resp.Body.Close()
	// Notify records each attempt, and the webhooks API reads them and
	// redelivers one, under their own users.
	operatorCall := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, "http://"+base.HTTPAddr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer operator-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	var attempts struct {
		Attempts []struct {
			WebhookID string `json:"webhook_id"`
		}
	}
	testenv.WaitFor(t, "three attempts in the delivery log", 10*time.Second, func() bool {
		code, body := operatorCall("GET", "/v1/webhooks/partner/attempts", "")
		return code == 200 && json.Unmarshal(body, &attempts) == nil && len(attempts.Attempts) == 3
	})
	before := delivered.Load()
	if code, body := operatorCall("POST", "/v1/webhooks/partner/redeliver", `{"event": "`+attempts.Attempts[0].WebhookID+`"}`); code != 202 {
		t.Errorf("redeliver under ingest's user: %d %s", code, body)
	}
	testenv.WaitFor(t, "the redelivery", 10*time.Second, func() bool { return delivered.Load() > before })
	// A dead letter of the partner's, as notify makes them, listed and
	// replayed through the API under ingest's user.
	onc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("operator", password["operator"]))
	if err != nil {
		t.Fatal(err)
	}
	defer onc.Close()
	ojs, _ := jetstream.New(onc)
	sites, err := ojs.Stream(ctx, layout.StreamSites)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sites.GetLastMsgForSubject(ctx, layout.SiteSubject("front", events.Published))
	if err != nil {
		t.Fatal(err)
	}
	dl, _ := proto.Marshal(&pb.DeadLetter{Stage: "webhook-partner", Subject: layout.WebhookSubject("partner"), Data: ev.Data,
		Headers: map[string]string{bus.HeaderArticleID: acc.ID}, ArticleId: acc.ID, FailedAt: timestamppb.Now()})
	stored, err := ojs.Publish(ctx, layout.DeadLetterSubject("webhook-partner"), dl)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := operatorCall("GET", "/v1/deadletters?stage=webhook-partner", ""); code != 200 || !strings.Contains(string(body), `"replayable": true`) {
		t.Errorf("dead letters under ingest's user: %d %s", code, body)
	}
	before = delivered.Load()
	if code, body := operatorCall("POST", fmt.Sprintf("/v1/deadletters/%d/replay", stored.Sequence), ""); code != 202 {
		t.Errorf("replay under ingest's user: %d %s", code, body)
	}
	testenv.WaitFor(t, "the replayed dead letter delivered", 10*time.Second, func() bool { return delivered.Load() > before })
	if l := logs.String(); strings.Contains(l, "ermission") {
		t.Errorf("a service was refused what it needs:\n%s", l)
	}

	// The downstream site reads its own site's events, as pkg/subscriber
	// does, and nothing else.
	dnc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(mirror.User, password[mirror.User]), nats.CustomInboxPrefix(app.InboxPrefix(mirror.User)))
	if err != nil {
		t.Fatal(err)
	}
	defer dnc.Close()
	djs, err := jetstream.New(dnc)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan events.Kind, 10)
	sctx, stop := context.WithCancel(ctx)
	go func() {
		_ = subscriber.Run(sctx, djs, subscriber.Config{Site: "front", Durable: mirror.Durable}, func(_ context.Context, ev subscriber.Event) error {
			seen <- ev.Kind
			return nil
		})
	}()
	for _, want := range []events.Kind{events.Published, events.Updated, events.Withdrawn} {
		select {
		case got := <-seen:
			if got != want {
				t.Errorf("the downstream site heard %s, want %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the downstream site did not hear %s under its own user", want)
		}
	}
	stop()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := djs.CreateConsumer(rctx, events.Stream, jetstream.ConsumerConfig{Durable: "mirror-front", FilterSubject: events.SiteFilter("regional")}); err == nil {
		t.Error("the front site's user made a consumer of another site's events")
	}

	// What is not a user's job is refused: forging another stage's
	// output or a site event, writing another's bucket, deleting or
	// purging a stream, reading other sites' events or other users'
	// replies.
	for _, tc := range []struct {
		user, subject string
		subscribe     bool
	}{
		{"clean", layout.WithdrawSubject(acc.ID), false},
		{"notify", layout.SiteSubject("front", events.Published), false},
		{"imageproc", "$KV.pressline_refs.x", false},
		{"ingest", "$JS.API.STREAM.DELETE." + layout.StreamArticles, false},
		{"publish", "$JS.API.STREAM.PURGE." + layout.StreamSites, false},
		{mirror.User, events.AllSites, true},
		{mirror.User, app.InboxPrefix("ingest") + ".>", true},
		{"clean", "_INBOX.>", true},
	} {
		errs := make(chan error, 1)
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(tc.user, password[tc.user]),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		if err != nil {
			t.Fatal(err)
		}
		if tc.subscribe {
			_, _ = nc.SubscribeSync(tc.subject)
		} else {
			_ = nc.Publish(tc.subject, []byte("forged"))
		}
		_ = nc.Flush()
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), "Permissions Violation") {
				t.Errorf("%s on %s: %v", tc.user, tc.subject, err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("%s may use %s (subscribe %v)", tc.user, tc.subject, tc.subscribe)
		}
		nc.Close()
	}
}
