package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
	"github.com/pressline/pressline/pkg/webhook"
)

// TestWebhooksFollowAnArticle: a webhook subscriber hears an article's
// publication, its correction and its withdrawal on each site, signed,
// in order, once each.
func TestWebhooksFollowAnArticle(t *testing.T) {
	secret, err := webhook.ParseSecret(webhook.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string // "<site> <type>", in the order received
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := secret.Verify(r.Header, body, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("receiver: %v", err)
		}
		ev, err := b.Event()
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		mu.Lock()
		got = append(got, ev.GetSite()+" "+b.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	e := newEnv(t)
	e.Config.Webhooks = []config.Webhook{{Name: "partner", URL: receiver.URL, Secret: secret,
		Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.Start(t)
	ctx := context.Background()
	api := e.API()
	first, err := api.Submit(ctx, client.Submission{Body: []byte("Tin có sửa\n\nBản đầu tiên của bài.\n"), ContentType: "text/plain; charset=utf-8", ExternalID: "cms-9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Follow(ctx, first.ID, 50*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	fix, err := api.Submit(ctx, client.Submission{Body: []byte("Tin đã sửa\n\nBản thứ hai của bài.\n"), ContentType: "text/plain; charset=utf-8", ExternalID: "cms-9"})
	if err != nil || fix.ID != first.ID || fix.Version != 2 {
		t.Fatalf("correction: %+v %v", fix, err)
	}
	testenv.WaitFor(t, "the correction published", 20*time.Second, func() bool {
		st, err := api.Status(ctx, first.ID)
		return err == nil && st.GetArticle().GetVersion() == 2 && st.GetState() == client.Published
	})
	if _, err := api.Withdraw(ctx, first.ID, "test"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "six webhooks", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 6 })
	time.Sleep(300 * time.Millisecond) // room for a wrong seventh
	mu.Lock()
	defer mu.Unlock()
	for _, site := range []string{"front", "regional"} {
		var kinds []string
		for _, g := range got {
			if s, k, _ := strings.Cut(g, " "); s == site {
				kinds = append(kinds, k)
			}
		}
		if strings.Join(kinds, " ") != "article.published article.updated article.withdrawn" {
			t.Errorf("%s webhooks %v", site, kinds)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d webhooks, want 6: %v", len(got), got)
	}
}

// TestWebhookAddedThroughTheAPI: an operator adds a subscriber over HTTP
// while the pipeline runs; the next article reaches it, signed with the
// secret the API answered, on the one site it asked for.
func TestWebhookAddedThroughTheAPI(t *testing.T) {
	var mu sync.Mutex
	var secret webhook.Secret
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := secret.Verify(r.Header, body, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		_ = json.Unmarshal(body, &b)
		ev, _ := b.Event()
		got = append(got, ev.GetSite()+" "+b.Type)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	const operator = "operator-token-for-the-test"
	e := newEnv(t)
	e.Config.Operators = []config.Operator{{TokenHash: config.HashToken(operator)}}
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.Start(t)
	// Published before the subscriber exists: not for it.
	before := e.Submit(t, []byte("Tin trước khi đăng ký\n\nBài này đăng trước khi đối tác đăng ký nhận tin.\n"))
	testenv.WaitFor(t, "the earlier article published", 30*time.Second, func() bool { return len(e.Published(t)[before]) == 2 })

	body := `{"name": "late-partner", "url": "` + receiver.URL + `", "sites": ["regional"], "events": ["published"], "min_backoff": "100ms", "max_backoff": "1s"}`
	req, _ := http.NewRequest("POST", "http://"+e.Config.HTTPAddr+"/v1/webhooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+operator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Secret string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %v", resp.Status, err)
	}
	mu.Lock()
	if secret, err = webhook.ParseSecret(created.Secret); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()

	id := e.Submit(t, []byte("Tin cho đối tác mới\n\nBài viết đầu tiên sau khi đối tác đăng ký nhận tin.\n"))
	testenv.WaitFor(t, "the new subscriber's webhook", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 1 })
	time.Sleep(300 * time.Millisecond) // room for a wrong second
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "regional article.published" {
		t.Errorf("the subscriber of regional's publications got %v for article %s", got, id)
	}
}
