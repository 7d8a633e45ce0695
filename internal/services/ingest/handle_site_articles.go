package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/siteindex"
)

// siteArticle is one entry of GET /v1/sites/{site}/articles.
type siteArticle struct {
	ID             string        `json:"id"`
	Version        uint32        `json:"version"`
	Title          string        `json:"title"`
	URL            string        `json:"url"`
	NinjsURL       string        `json:"ninjs_url"`
	Section        string        `json:"section,omitempty"`
	Subjects       []siteSubject `json:"subjects,omitempty"`
	Keywords       []string      `json:"keywords,omitempty"`
	FirstPublished time.Time     `json:"first_published"`
	Updated        time.Time     `json:"updated"`
}

type siteSubject struct {
	Name string `json:"name,omitempty"`
	Code string `json:"code,omitempty"`
	URI  string `json:"uri,omitempty"`
}

func siteArticleOf(e siteindex.Entry) siteArticle {
	a := siteArticle{ID: e.ID, Version: e.Version, Title: e.Title, URL: e.URL, NinjsURL: e.NinjsURL, Section: e.Section,
		Keywords: e.Keywords, FirstPublished: e.FirstPublished.UTC(), Updated: e.Updated.UTC()}
	for _, c := range e.Subjects {
		a.Subjects = append(a.Subjects, siteSubject{Name: c.GetName(), Code: c.GetCode(), URI: c.GetUri()})
	}
	return a
}

// indexReady answers 503 unless the site index serves the content API
// and has caught up.
func (s *Service) indexReady(w http.ResponseWriter) bool {
	if s.cfg.SiteEvents == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "this server does not serve the content API"})
		return false
	}
	if !s.index.Ready() {
		indexLoading(w, "site index is still reading the sites' events")
		return false
	}
	return true
}

// handleSiteArticles lists the articles online on a site, first
// published newest first, with filters and cursor paging:
// GET /v1/sites/{site}/articles?since=&until=&section=&subject=&keyword=&limit=&after=.
func (s *Service) handleSiteArticles(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if !s.authenticateSite(w, r, site) || !s.indexReady(w) {
		return
	}
	q := r.URL.Query()
	query := siteindex.Query{Section: q.Get("section"), Subject: q.Get("subject"), Keyword: q.Get("keyword"), After: q.Get("after")}
	var ok bool
	if query.Since, ok = queryTime(w, q, "since"); !ok {
		return
	}
	if query.Until, ok = queryTime(w, q, "until"); !ok {
		return
	}
	if query.Limit, ok = queryLimit(w, q, 50); !ok {
		return
	}
	page, err := s.index.List(site, query)
	if errors.Is(err, siteindex.ErrBadCursor) {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "after",
			Detail: "after must be a page's next, as the API gave it, or absent for the first page"})
		return
	}
	out := struct {
		Articles []siteArticle `json:"articles"`
		Next     string        `json:"next,omitempty"`
		Total    int           `json:"total"`
	}{Articles: []siteArticle{}, Next: page.Next, Total: page.Total}
	// The page's ETag is what it holds: each article's id and version,
	// the next cursor and the total.
	h := sha256.New()
	fmt.Fprintf(h, "%s %d\n", page.Next, page.Total)
	for _, e := range page.Entries {
		out.Articles = append(out.Articles, siteArticleOf(e))
		fmt.Fprintf(h, "%s %d\n", e.ID, e.Version)
	}
	if notModified(w, r, `"`+hex.EncodeToString(h.Sum(nil)[:16])+`"`) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, out)
}

// handleSiteArticle answers an article online on the site with its ninjs
// document: GET /v1/sites/{site}/articles/{id}.
func (s *Service) handleSiteArticle(w http.ResponseWriter, r *http.Request) {
	site, id := r.PathValue("site"), r.PathValue("id")
	if !s.authenticateSite(w, r, site) || !s.indexReady(w) {
		return
	}
	e, found := s.index.Get(site, id)
	if !found {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "article-not-found", Field: "id",
			Detail: fmt.Sprintf("no article %s is online on site %s (never published there, or withdrawn)", id, site)})
		return
	}
	if notModified(w, r, fmt.Sprintf(`"%s-v%d"`, e.ID, e.Version)) {
		return
	}
	doc, err := s.cfg.Blobs.Get(r.Context(), e.NinjsKey)
	if errors.Is(err, blob.ErrNotFound) {
		// Taken down after the index last heard of it: the withdrawal's
		// event is on its way.
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "article-not-found", Field: "id",
			Detail: fmt.Sprintf("article %s is no longer online on site %s", id, site)})
		return
	}
	if err != nil {
		s.log.Error("site article", "site", site, "article_id", id, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "storage is unavailable; try again in a few seconds"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

// notModified sets the response's ETag and answers 304 when the request
// already holds it (If-None-Match).
func notModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	for _, tag := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		if tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/"); tag == etag || tag == "*" {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}
