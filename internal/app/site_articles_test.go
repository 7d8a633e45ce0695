package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
)

type siteArticlePage struct {
	Articles []struct {
		ID, Title, URL, Section string
		NinjsURL                string `json:"ninjs_url"`
		Version                 int
		Keywords                []string
		Subjects                []struct{ Name, Code, URI string }
		FirstPublished          time.Time `json:"first_published"`
		Updated                 time.Time
	}
	Next  string
	Total int
}

// TestSiteArticles: a downstream site lists what is online on it through
// the content API, with its own read token: published articles only,
// newest first, filtered by section, subject, keyword and time, paged by
// cursor, with an ETag that answers 304 while nothing changed; it reads
// one article's ninjs; a withdrawn article leaves the list and its
// lookup answers 404. Real NATS and MinIO, every stage running.
func TestSiteArticles(t *testing.T) {
	e := newEnv(t)
	const frontToken = "front-reader-abcdefghij"
	e.Config.SiteReaders = []config.SiteReader{{Site: "front", TokenHash: config.HashToken(frontToken)}}
	e.Start(t)
	ctx := context.Background()

	html := e.SubmitAs(t, client.Submission{ContentType: "text/html; charset=utf-8", Sites: []string{"front"}, Body: []byte(`<!doctype html><html lang="vi"><head>
<title>Giá lúa tăng mạnh</title><meta property="article:section" content="Kinh tế">
<meta name="keywords" content="lúa gạo, xuất khẩu"></head><body><article><h1>Giá lúa tăng mạnh</h1>
<p>Giá lúa tại đồng bằng sông Cửu Long tăng mạnh trong tuần qua, theo các thương lái.</p>
<p>Nông dân phấn khởi vì vụ mùa bội thu và giá bán cao hơn năm ngoái.</p></article></body></html>`)})
	testenv.WaitFor(t, "the HTML article published", 30*time.Second, func() bool { return len(e.Published(t)[html]) == 1 })
	ninjs := e.SubmitAs(t, client.Submission{ContentType: "application/json", Body: []byte(`{"uri":"urn:test:site-articles-1","type":"text",
"headlines":[{"role":"main","value":"Markets close higher"}],
"bodies":[{"role":"main","contentType":"text/plain","value":"Stocks rose on Tuesday as investors welcomed the rate decision.\n\nBank shares led the gains."}],
"subjects":[{"name":"economy, business and finance","uri":"http://cv.iptc.org/newscodes/mediatopic/04000000","code":"medtop:04000000"}],
"keywords":["markets"]}`)})
	text := e.SubmitAs(t, client.Submission{ContentType: "text/plain; charset=utf-8", ExternalID: "site-articles-text",
		Body: []byte("Tin sẽ bị gỡ\n\nBài này sẽ được gỡ khỏi trang.\n")})
	testenv.WaitFor(t, "every article published", 30*time.Second, func() bool {
		p := e.Published(t)
		return len(p[ninjs]) == 2 && len(p[text]) == 2
	})

	get := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.Config.HTTPAddr+path, nil)
		req.Header.Set("Authorization", "Bearer "+frontToken)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	read := func(query string) (siteArticlePage, string) {
		t.Helper()
		resp, b := get("/v1/sites/front/articles" + query)
		var p siteArticlePage
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &p) != nil {
			t.Fatalf("GET articles%s: %d %s", query, resp.StatusCode, b)
		}
		return p, resp.Header.Get("ETag")
	}
	// The index follows the sites' stream: what was just published may
	// take a moment to show.
	list := func(query string, want int) (p siteArticlePage, etag string) {
		t.Helper()
		testenv.WaitFor(t, "the list "+query, 10*time.Second, func() bool {
			p, etag = read(query)
			return p.Total == want
		})
		return p, etag
	}
	titles := func(p siteArticlePage) []string {
		var out []string
		for _, a := range p.Articles {
			out = append(out, a.Title)
		}
		return out
	}

	all, etag := list("", 3)
	if want := []string{"Tin sẽ bị gỡ", "Markets close higher", "Giá lúa tăng mạnh"}; !slices.Equal(titles(all), want) || all.Total != 3 {
		t.Fatalf("front's articles: %v (total %d), want %v", titles(all), all.Total, want)
	}
	for _, a := range all.Articles {
		if a.Version != 1 || a.URL == "" || a.NinjsURL == "" || a.FirstPublished.IsZero() || a.Updated.Before(a.FirstPublished) {
			t.Errorf("article %+v", a)
		}
	}
	if a := all.Articles[2]; a.Section != "Kinh tế" || !slices.Equal(a.Keywords, []string{"lúa gạo", "xuất khẩu"}) {
		t.Errorf("the HTML article's section and keywords: %q %q", a.Section, a.Keywords)
	}
	if a := all.Articles[1]; len(a.Subjects) != 1 || a.Subjects[0].Code != "medtop:04000000" {
		t.Errorf("the ninjs article's subjects: %+v", a.Subjects)
	}
	for query, want := range map[string][]string{
		"?section=kinh%20t%E1%BA%BF":                                        {"Giá lúa tăng mạnh"},
		"?subject=medtop:04000000":                                          {"Markets close higher"},
		"?keyword=" + url.QueryEscape("Xuất khẩu"):                          {"Giá lúa tăng mạnh"},
		"?until=" + all.Articles[0].FirstPublished.Format(time.RFC3339Nano): {"Markets close higher", "Giá lúa tăng mạnh"},
	} {
		if p, _ := read(query); !slices.Equal(titles(p), want) || p.Total != len(want) {
			t.Errorf("%s: %v, want %v", query, titles(p), want)
		}
	}
	if p, _ := read("?since=" + all.Articles[0].FirstPublished.Add(time.Second).Format(time.RFC3339)); len(p.Articles) != 0 {
		t.Errorf("since after the newest: %v", titles(p))
	}

	// Paging: one at a time, after each page's next.
	var paged []string
	for after := ""; ; {
		resp, b := get("/v1/sites/front/articles?limit=1" + after)
		var p siteArticlePage
		if resp.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("page after %q: %d %s", after, resp.StatusCode, b)
		}
		paged = append(paged, titles(p)...)
		if p.Next == "" {
			break
		}
		after = "&after=" + url.QueryEscape(p.Next)
	}
	if !slices.Equal(paged, titles(all)) {
		t.Errorf("paged: %v, want %v", paged, titles(all))
	}

	if resp, _ := get("/v1/sites/front/articles", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the list's ETag: %d", resp.StatusCode)
	}
	resp, b := get("/v1/sites/front/articles/" + ninjs)
	var doc struct {
		Headlines []struct{ Value string }
		Version   string
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || len(doc.Headlines) == 0 || doc.Headlines[0].Value != "Markets close higher" {
		t.Fatalf("the ninjs article: %d %s", resp.StatusCode, b)
	}
	if resp2, _ := get("/v1/sites/front/articles/"+ninjs, "If-None-Match", resp.Header.Get("ETag")); resp2.StatusCode != http.StatusNotModified {
		t.Errorf("the article's ETag: %d", resp2.StatusCode)
	}

	if _, err := e.API().Withdraw(ctx, text, "site articles test"); err != nil {
		t.Fatal(err)
	}
	if p, _ := list("", 2); slices.Contains(titles(p), "Tin sẽ bị gỡ") {
		t.Errorf("the withdrawn article is still listed: %v", titles(p))
	}
	if resp, _ := get("/v1/sites/front/articles", "If-None-Match", etag); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with an ETag from before the withdrawal: %d", resp.StatusCode)
	}

	for _, tt := range []struct {
		name, token, path string
		code              int
		problem, field    string
	}{
		{"a withdrawn article", frontToken, "/v1/sites/front/articles/" + text, 404, "article-not-found", "id"},
		{"an article of another site", frontToken, "/v1/sites/front/articles/NOSUCHARTICLE", 404, "article-not-found", "id"},
		{"another site", frontToken, "/v1/sites/regional/articles", 403, "site-not-allowed", "site"},
		{"no token", "", "/v1/sites/front/articles", 401, "unauthenticated", "Authorization"},
		{"a cursor that is not one", frontToken, "/v1/sites/front/articles?after=abc", 400, "invalid-parameter", "after"},
		{"a time that is not one", frontToken, "/v1/sites/front/articles?since=yesterday", 400, "invalid-parameter", "since"},
		{"a limit too large", frontToken, "/v1/sites/front/articles?limit=501", 400, "invalid-parameter", "limit"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+e.Config.HTTPAddr+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p client.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tt.code || p.Type != client.ProblemTypePrefix+tt.problem || p.Field != tt.field || p.Detail == "" {
			t.Errorf("%s: %d %+v, want %d %s on %s", tt.name, resp.StatusCode, p, tt.code, tt.problem, tt.field)
		}
	}
}
