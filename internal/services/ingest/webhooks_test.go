package ingest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pressline/pressline/pkg/client"
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
