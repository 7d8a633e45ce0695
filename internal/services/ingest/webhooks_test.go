package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/client"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestWebhooksAPI: operators create, list, read, change and delete
// webhook subscribers; each refusal is a problem naming its field.
func TestWebhooksAPI(t *testing.T) {
	f := newFixture(t, nil)
	do := func(method, path, auth, body string) (*http.Response, []byte) {
		t.Helper()
		return f.call(t, method, path, auth, body)
	}
	const partner = `{"name": "partner", "url": "https://hooks.example/p", "sites": ["front"], "events": ["published", "withdrawn"]}`

	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		problem, field                 string
	}{
		{"no token", "GET", "/v1/webhooks", "", "", 401, "unauthenticated", "Authorization"},
		{"a newsroom's token", "GET", "/v1/webhooks", token, "", 403, "operators-only", "Authorization"},
		{"an unknown token", "POST", "/v1/webhooks", "not-a-token-of-anyone", partner, 401, "invalid-token", "Authorization"},
		{"created", "POST", "/v1/webhooks", operatorToken, partner, 201, "", ""},
		{"the same name", "POST", "/v1/webhooks", operatorToken, partner, 409, "webhook-exists", "name"},
		{"a bad name", "POST", "/v1/webhooks", operatorToken, `{"name": "Partner!", "url": "https://x.example"}`, 400, "invalid-webhook", "name"},
		{"not http", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "ftp://x.example"}`, 400, "invalid-webhook", "url"},
		{"an unknown event", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "https://x.example", "events": ["deleted"]}`, 400, "invalid-webhook", "events"},
		{"a bad secret", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "https://x.example", "secret": "hunter2"}`, 400, "invalid-webhook", "secret"},
		{"a bad deadline", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "https://x.example", "deadline": "soon"}`, 400, "invalid-webhook", "deadline"},
		{"an unknown field", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "https://x.example", "colour": "red"}`, 400, "invalid-json", "body"},
		{"too large", "POST", "/v1/webhooks", operatorToken, `{"name": "p2", "url": "https://x.example/` + strings.Repeat("a", maxWebhookBody) + `"}`, 413, "body-too-large", "body"},
		{"no such subscriber", "GET", "/v1/webhooks/nobody", operatorToken, "", 404, "no-such-webhook", "name"},
		{"a bad name in the path", "GET", "/v1/webhooks/BAD%00", operatorToken, "", 400, "invalid-name", "name"},
		{"renamed", "PATCH", "/v1/webhooks/partner", operatorToken, `{"name": "other"}`, 400, "invalid-webhook", "name"},
		{"a bad event in a patch", "PATCH", "/v1/webhooks/partner", operatorToken, `{"events": ["deleted"]}`, 400, "invalid-webhook", "events"},
		{"its start moved", "PATCH", "/v1/webhooks/partner", operatorToken, `{"created": "2020-01-01T00:00:00Z"}`, 400, "invalid-webhook", "created"},
		{"the secret taken away", "PATCH", "/v1/webhooks/partner", operatorToken, `{"secret": null}`, 400, "invalid-webhook", "secret"},
		{"disabled", "PATCH", "/v1/webhooks/partner", operatorToken, `{"disabled": true, "disabled_reason": "the partner's site is down for a week"}`, 200, "", ""},
		{"rotated, keeping the old secret too long", "POST", "/v1/webhooks/partner/rotate", operatorToken, `{"keep_previous_for": "30d"}`, 400, "invalid-rotation", "keep_previous_for"},
		{"rotated, keeping the old secret for a negative time", "POST", "/v1/webhooks/partner/rotate", operatorToken, `{"keep_previous_for": "-1h"}`, 400, "invalid-rotation", "keep_previous_for"},
		{"rotating nobody", "POST", "/v1/webhooks/nobody/rotate", operatorToken, "", 404, "no-such-webhook", "name"},
		{"rotated by a newsroom", "POST", "/v1/webhooks/partner/rotate", token, "", 403, "operators-only", "Authorization"},
		{"a method it does not take", "PUT", "/v1/webhooks/partner", operatorToken, partner, 405, "method-not-allowed", ""},
	} {
		resp, body := do(tc.method, tc.path, tc.auth, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s", tc.name, resp.Status, body)
			continue
		}
		if tc.problem == "" {
			continue
		}
		var p client.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %s (%v), want problem %s on field %q", tc.name, body, err, tc.problem, tc.field)
		}
	}

	// What was created and changed, as the API shows it: no secret.
	resp, body := do("GET", "/v1/webhooks", operatorToken, "")
	var list struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Webhooks) != 1 {
		t.Fatalf("list: %s %s", resp.Status, body)
	}
	got := list.Webhooks[0]
	if got["name"] != "partner" || got["disabled"] != true || got["disabled_reason"] == nil || got["secret"] != nil {
		t.Errorf("listed %v; want partner, disabled with its reason, without its secret", got)
	}
	// The secret made at creation is the one stored, and signs.
	spec, _, err := f.hooks.Get(t.Context(), "partner")
	if err != nil || !strings.HasPrefix(spec.Secret, "whsec_") {
		t.Fatalf("stored %+v, %v", spec, err)
	}
	if w, err := spec.Webhook(); err != nil || time.Since(w.Since) > time.Minute {
		t.Errorf("the stored subscriber cannot be delivered to, or does not start at its creation: %+v %v", w, err)
	}
	if resp, _ := do("DELETE", "/v1/webhooks/partner", operatorToken, ""); resp.StatusCode != 204 {
		t.Errorf("delete: %s", resp.Status)
	}
	if resp, _ := do("DELETE", "/v1/webhooks/partner", operatorToken, ""); resp.StatusCode != 404 {
		t.Errorf("delete again: %s, want 404", resp.Status)
	}
}

// TestCreatedWebhookShowsItsSecretOnce: the creation answers the secret
// made for the subscriber (a receiver needs it to check signatures);
// reading it later does not.
func TestCreatedWebhookShowsItsSecretOnce(t *testing.T) {
	f := newFixture(t, nil)
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/webhooks", bytes.NewReader([]byte(`{"name": "site-b", "url": "https://b.example/hook"}`)))
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct{ Secret string }
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != 201 || !strings.HasPrefix(created.Secret, "whsec_") ||
		resp.Header.Get("Location") != "/v1/webhooks/site-b" {
		t.Fatalf("create: %s, %+v, %v", resp.Status, created, err)
	}
	req, _ = http.NewRequest("GET", f.srv.URL+"/v1/webhooks/site-b", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(body, []byte("whsec_")) {
		t.Errorf("read: %s %s; want it without the secret", resp.Status, body)
	}
}

// TestRotateWebhookSecret: a rotation answers the new secret once, keeps
// the old one signing until previous_until, and never shows the old one.
func TestRotateWebhookSecret(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := f.call(t, "POST", "/v1/webhooks", operatorToken, `{"name": "site-c", "url": "https://c.example/hook"}`)
	var created struct{ Secret string }
	if err := json.Unmarshal(body, &created); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %s %s", resp.Status, body)
	}
	for _, tc := range []struct {
		name, body string
		overlap    time.Duration
	}{
		{"the default overlap", "", 24 * time.Hour},
		{"an overlap asked for", `{"keep_previous_for": "2h"}`, 2 * time.Hour},
		{"no overlap", `{"keep_previous_for": "0s"}`, 0},
	} {
		before, _, err := f.hooks.Get(t.Context(), "site-c")
		if err != nil {
			t.Fatal(err)
		}
		resp, body := f.call(t, "POST", "/v1/webhooks/site-c/rotate", operatorToken, tc.body)
		var shown map[string]any
		if err := json.Unmarshal(body, &shown); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", tc.name, resp.Status, body)
		}
		after, _, err := f.hooks.Get(t.Context(), "site-c")
		if err != nil {
			t.Fatal(err)
		}
		if shown["secret"] != after.Secret || after.Secret == before.Secret || shown["previous_secret"] != nil {
			t.Errorf("%s: answered %s; want the new secret stored (%s), and the old one not shown", tc.name, body, after.Secret)
		}
		w, err := after.Webhook()
		if err != nil {
			t.Fatalf("%s: the rotated subscriber cannot be delivered to: %v", tc.name, err)
		}
		now := time.Now()
		if tc.overlap == 0 {
			if after.PreviousSecret != "" || len(w.Secrets(now)) != 1 {
				t.Errorf("%s: the old secret still signs: %+v", tc.name, after)
			}
			continue
		}
		if after.PreviousSecret != before.Secret || after.PreviousUntil == nil || after.PreviousUntil.Sub(now.Add(tc.overlap)).Abs() > time.Minute {
			t.Errorf("%s: previous %q until %v; want the old secret until about %s from now", tc.name, after.PreviousSecret, after.PreviousUntil, tc.overlap)
		}
		if len(w.Secrets(now)) != 2 || len(w.Secrets(now.Add(tc.overlap+time.Minute))) != 1 {
			t.Errorf("%s: signing secrets now %d, after the overlap %d; want 2 then 1", tc.name, len(w.Secrets(now)), len(w.Secrets(now.Add(tc.overlap+time.Minute))))
		}
		if _, body := f.call(t, "GET", "/v1/webhooks/site-c", operatorToken, ""); bytes.Contains(body, []byte("whsec_")) {
			t.Errorf("%s: read shows a secret: %s", tc.name, body)
		}
	}
}

// TestWebhookDeliveryLogAPI: operators read a subscriber's attempts, by
// event and by page, and redeliver one event or every one that failed
// in a time range; each refusal names its field.
func TestWebhookDeliveryLogAPI(t *testing.T) {
	f := newFixture(t, nil)
	if resp, body := f.call(t, "POST", "/v1/webhooks", operatorToken, `{"name": "partner", "url": "https://hooks.example/p"}`); resp.StatusCode != 201 {
		t.Fatalf("create: %s %s", resp.Status, body)
	}
	// Two events in the sites' stream, as publish stores them, and the
	// attempts notify would have recorded for them.
	ctx := t.Context()
	for v := uint32(1); v <= 2; v++ {
		ref := &pb.ArticleRef{Id: "01KB00000000000000000000AB", Version: v, Newsroom: "quocoai", Sites: []string{"front"}}
		ev := &pb.ArticlePublished{Article: ref, Kind: events.Published.Proto(), Site: "front"}
		if err := f.bus.Publish(ctx, layout.SiteSubject("front", events.Published), bus.MsgID(ref, "published/front"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := f.bus.SiteEvents(ctx, "front", 0, 10)
	if err != nil || len(stored) != 2 {
		t.Fatalf("site events: %d, %v", len(stored), err)
	}
	idA, idB := "msg_01KB00000000000000000000AB_v1_front_published", "msg_01KB00000000000000000000AB_v2_front_published"
	began := time.Now().Add(-time.Second)
	for _, a := range []webhooks.Attempt{
		{WebhookID: idA, Attempt: 1, Status: 503, Outcome: webhooks.Retrying, EventSeq: stored[0].Seq},
		{WebhookID: idA, Attempt: 2, Status: 422, Outcome: webhooks.Failed, EventSeq: stored[0].Seq},
		{WebhookID: idB, Attempt: 1, Outcome: webhooks.Delivered, EventSeq: stored[1].Seq},
	} {
		a.Subscriber, a.At = "partner", time.Now()
		if err := f.hookLog.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	since := url.QueryEscape(began.UTC().Format(time.RFC3339))

	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		problem, field                 string
		attempts                       int
	}{
		{"every attempt", "GET", "/v1/webhooks/partner/attempts", operatorToken, "", 200, "", "", 3},
		{"one event's", "GET", "/v1/webhooks/partner/attempts?event=" + idA, operatorToken, "", 200, "", "", 2},
		{"a page", "GET", "/v1/webhooks/partner/attempts?limit=2", operatorToken, "", 200, "", "", 2},
		{"since", "GET", "/v1/webhooks/partner/attempts?since=" + since, operatorToken, "", 200, "", "", 3},
		{"an unknown event", "GET", "/v1/webhooks/partner/attempts?event=msg_nothing", operatorToken, "", 200, "", "", 0},
		{"not a webhook-id", "GET", "/v1/webhooks/partner/attempts?event=a.b", operatorToken, "", 400, "invalid-parameter", "event", 0},
		{"a bad cursor", "GET", "/v1/webhooks/partner/attempts?after=x", operatorToken, "", 400, "invalid-parameter", "after", 0},
		{"a bad time", "GET", "/v1/webhooks/partner/attempts?since=yesterday", operatorToken, "", 400, "invalid-parameter", "since", 0},
		{"a bad limit", "GET", "/v1/webhooks/partner/attempts?limit=501", operatorToken, "", 400, "invalid-parameter", "limit", 0},
		{"nobody's", "GET", "/v1/webhooks/nobody/attempts", operatorToken, "", 404, "no-such-webhook", "name", 0},
		{"a newsroom's token", "GET", "/v1/webhooks/partner/attempts", token, "", 403, "operators-only", "Authorization", 0},
		{"redeliver nothing named", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{}`, 400, "invalid-redelivery", "since", 0},
		{"redeliver a bad id", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{"event": "x.y"}`, 400, "invalid-redelivery", "event", 0},
		{"redeliver both", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{"event": "` + idA + `", "since": "2026-01-01T00:00:00Z"}`, 400, "invalid-redelivery", "event", 0},
		{"redeliver a bad range", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}`, 400, "invalid-redelivery", "until", 0},
		{"redeliver an unknown event", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{"event": "msg_nothing"}`, 404, "no-such-attempt", "event", 0},
		{"redeliver a range with no attempt", "POST", "/v1/webhooks/partner/redeliver", operatorToken, `{"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}`, 202, "", "", 0},
		{"redeliver for nobody", "POST", "/v1/webhooks/nobody/redeliver", operatorToken, `{"event": "` + idA + `"}`, 404, "no-such-webhook", "name", 0},
	} {
		resp, body := f.call(t, tc.method, tc.path, tc.auth, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s", tc.name, resp.Status, body)
			continue
		}
		if tc.problem != "" {
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field {
				t.Errorf("%s: %s, want problem %s on field %q", tc.name, body, tc.problem, tc.field)
			}
			continue
		}
		var list attemptList
		if err := json.Unmarshal(body, &list); err != nil || len(list.Attempts) != tc.attempts {
			t.Errorf("%s: %s, want %d attempts", tc.name, body, tc.attempts)
		}
	}

	// Paging: the next page starts after the last one read.
	_, body := f.call(t, "GET", "/v1/webhooks/partner/attempts?limit=2", operatorToken, "")
	var first attemptList
	_ = json.Unmarshal(body, &first)
	_, body = f.call(t, "GET", "/v1/webhooks/partner/attempts?limit=2&after="+first.Next, operatorToken, "")
	var second attemptList
	if err := json.Unmarshal(body, &second); err != nil || first.Next == "" || len(second.Attempts) != 1 || second.Attempts[0].WebhookID != idB || second.Next != "" {
		t.Errorf("pages: %+v then %s", first, body)
	}

	// Redelivery sends the stored event to the subscriber's own subject.
	sites, err := f.js.Stream(ctx, layout.StreamSites)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"what failed since", `{"since": "` + began.UTC().Format(time.RFC3339) + `"}`, idA},
		{"one event, delivered before", `{"event": "` + idB + `"}`, idB},
	} {
		resp, body := f.call(t, "POST", "/v1/webhooks/partner/redeliver", operatorToken, tc.body)
		var out redelivered
		if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 202 || len(out.Events) != 1 || out.Events[0] != tc.want {
			t.Errorf("%s: %s %s, want %s sent again", tc.name, resp.Status, body, tc.want)
			continue
		}
		m, err := sites.GetLastMsgForSubject(ctx, layout.WebhookSubject("partner"))
		if err != nil {
			t.Fatalf("%s: nothing on the subscriber's subject: %v", tc.name, err)
		}
		var ev pb.ArticlePublished
		if err := proto.Unmarshal(m.Data, &ev); err != nil || fmt.Sprintf("v%d", ev.GetArticle().GetVersion()) != strings.Split(tc.want, "_")[2] {
			t.Errorf("%s: sent %v (%v), want %s", tc.name, &ev, err, tc.want)
		}
	}
}

// TestWebhookTestEventAPI: a test is stored on the subscriber's own
// subject for notify to send, and the answer says where its outcome will
// be; a disabled or unknown subscriber is refused.
func TestWebhookTestEventAPI(t *testing.T) {
	f := newFixture(t, nil)
	for _, body := range []string{`{"name": "partner", "url": "https://hooks.example/p"}`, `{"name": "paused", "url": "https://hooks.example/q", "disabled": true, "disabled_reason": "moving"}`} {
		if resp, b := f.call(t, "POST", "/v1/webhooks", operatorToken, body); resp.StatusCode != 201 {
			t.Fatalf("create: %s %s", resp.Status, b)
		}
	}
	resp, body := f.call(t, "POST", "/v1/webhooks/partner/test", operatorToken, "")
	var sent sentTest
	if err := json.Unmarshal(body, &sent); err != nil || resp.StatusCode != 202 || !webhookIDPattern.MatchString(sent.WebhookID) ||
		sent.Attempts != "/v1/webhooks/partner/attempts?event="+sent.WebhookID {
		t.Fatalf("test: %s %s", resp.Status, body)
	}
	sites, err := f.js.Stream(t.Context(), layout.StreamSites)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sites.GetLastMsgForSubject(t.Context(), layout.WebhookSubject("partner"))
	if err != nil || m.Header.Get(bus.HeaderWebhookTest) != sent.WebhookID {
		t.Errorf("stored %v (%v), want the test %s on the subscriber's subject", m, err, sent.WebhookID)
	}
	for _, tc := range []struct {
		path, auth     string
		status         int
		problem, field string
	}{
		{"/v1/webhooks/paused/test", operatorToken, 409, "webhook-disabled", "name"},
		{"/v1/webhooks/nobody/test", operatorToken, 404, "no-such-webhook", "name"},
		{"/v1/webhooks/partner/test", token, 403, "operators-only", "Authorization"},
	} {
		resp, body := f.call(t, "POST", tc.path, tc.auth, "")
		var p client.Problem
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != tc.status || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field {
			t.Errorf("%s: %s %s, want %d %s on %s", tc.path, resp.Status, body, tc.status, tc.problem, tc.field)
		}
	}
}
