package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
)

type changePage struct {
	Changes []struct {
		Cursor, Type, Timestamp string
		Data                    struct {
			Article struct{ ID string }
			Site    string
		}
	}
	Next string
}

// TestSiteChangesCatchUp: a downstream site that was away reads, over
// HTTP with its own read token, what happened on its site in order
// (a publication, its correction, another article, the withdrawal),
// page by page after the cursor it kept; it reads no other site, and
// every refusal says which field.
func TestSiteChangesCatchUp(t *testing.T) {
	e := newEnv(t)
	const frontToken, regionalToken = "front-reader-0123456789", "regional-reader-0123456789"
	e.Config.SiteReaders = []config.SiteReader{
		{Site: "front", TokenHash: config.HashToken(frontToken)},
		{Site: "regional", TokenHash: config.HashToken(regionalToken)},
	}
	e.Start(t)
	ctx := context.Background()
	api := e.API()
	sub := client.Submission{Body: []byte("Tin sẽ được sửa\n\nBản đầu của bài.\n"), ContentType: "text/plain; charset=utf-8", ExternalID: "changes-1"}
	a := e.SubmitAs(t, sub)
	testenv.WaitFor(t, "published", 20*time.Second, func() bool { return len(e.Published(t)[a]) == 2 })
	sub.Body = []byte("Tin sẽ được sửa\n\nBản sửa của bài.\n")
	if _, err := api.Submit(ctx, sub); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "updated", 20*time.Second, func() bool { return len(e.Published(t)[a]) == 4 })
	b := e.SubmitAs(t, client.Submission{Body: []byte("Tin chỉ cho trang nhất\n\nMột bài khác.\n"), ContentType: "text/plain; charset=utf-8", Sites: []string{"front"}})
	testenv.WaitFor(t, "the other article", 20*time.Second, func() bool { return len(e.Published(t)[b]) == 1 })
	if _, err := api.Withdraw(ctx, a, "changes test"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "withdrawn", 20*time.Second, func() bool { return len(e.Published(t)[a]) == 6 })

	get := func(token, path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.Config.HTTPAddr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatalf("GET %s: %d, body not JSON: %v", path, resp.StatusCode, err)
		}
		return resp.StatusCode, raw
	}
	page := func(token, path string) changePage {
		t.Helper()
		code, raw := get(token, path)
		var p changePage
		if code != 200 || json.Unmarshal(raw, &p) != nil {
			t.Fatalf("GET %s: %d %s", path, code, raw)
		}
		return p
	}
	want := []string{"article.published " + a, "article.updated " + a, "article.published " + b, "article.withdrawn " + a}
	seen := func(p changePage) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Data.Site != "front" {
				t.Errorf("change %s is of site %q", c.Cursor, c.Data.Site)
			}
			if _, err := time.Parse(time.RFC3339, c.Timestamp); err != nil {
				t.Errorf("change %s timestamp %q: %v", c.Cursor, c.Timestamp, err)
			}
			out = append(out, c.Type+" "+c.Data.Article.ID)
		}
		return out
	}
	all := page(frontToken, "/v1/sites/front/changes")
	if got := seen(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("front's changes:\n got %v\nwant %v", got, want)
	}
	// Page by page, one at a time, after the cursor kept.
	var paged []string
	after := ""
	for range 10 {
		p := page(frontToken, "/v1/sites/front/changes?limit=1"+after)
		if len(p.Changes) == 0 {
			if "&after="+p.Next != after {
				t.Errorf("an empty page's next is %q, want the cursor asked after (%s)", p.Next, after)
			}
			break
		}
		paged = append(paged, seen(p)...)
		after = "&after=" + p.Next
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Errorf("paged changes:\n got %v\nwant %v", paged, want)
	}
	if p := page(regionalToken, "/v1/sites/regional/changes"); len(p.Changes) != 3 {
		t.Errorf("regional has %d changes, want 3 (published, updated, withdrawn): %v", len(p.Changes), seen(p))
	}

	for _, tt := range []struct {
		name, token, path string
		code              int
		problem, field    string
	}{
		{"no token", "", "/v1/sites/front/changes", 401, "unauthenticated", "Authorization"},
		{"a newsroom's token", apptest.Token, "/v1/sites/front/changes", 401, "invalid-token", "Authorization"},
		{"another site's token", regionalToken, "/v1/sites/front/changes", 403, "site-not-allowed", "site"},
		{"a cursor that is not one", frontToken, "/v1/sites/front/changes?after=abc", 400, "invalid-parameter", "after"},
		{"a limit too large", frontToken, "/v1/sites/front/changes?limit=501", 400, "invalid-parameter", "limit"},
	} {
		code, raw := get(tt.token, tt.path)
		var p client.Problem
		_ = json.Unmarshal(raw, &p)
		if code != tt.code || p.Type != client.ProblemTypePrefix+tt.problem || p.Field != tt.field || p.Detail == "" {
			t.Errorf("%s: %d %s, want %d %s on %s", tt.name, code, raw, tt.code, tt.problem, tt.field)
		}
	}
}
