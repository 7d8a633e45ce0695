package publish

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/pressline/pressline/pkg/blob"
)

type siteStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error]
}

// SiteHandler serves the public prefix of the bucket over HTTP, as a CDN or
// MinIO's public bucket would in production; `pressline dev` uses it so a
// person can read what was published. A site folder without an index page
// gets a plain list of its newest articles.
func SiteHandler(store siteStore, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/") {
			p = strings.TrimSuffix(p, "/") + "/index.html"
		}
		rc, info, err := store.Open(r.Context(), PublicPrefix+strings.TrimPrefix(p, "/"))
		if errors.Is(err, blob.ErrNotFound) {
			site, isSiteRoot := strings.CutSuffix(strings.TrimPrefix(p, "/"), "/index.html")
			if isSiteRoot && site != "" && !strings.Contains(site, "/") {
				listArticles(w, r, store, site, log)
				return
			}
			http.Error(w, "not found: nothing is published at "+r.URL.Path, http.StatusNotFound)
			return
		}
		if err != nil {
			log.Error("site", "path", r.URL.Path, "err", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", info.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.Copy(w, rc)
	})
}

// listLimit bounds the work of a listing: one S3 read per article shown.
const listLimit = 50

var listPage = template.Must(template.New("list").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Site}}</title>
<style>body{font:18px/1.6 Georgia,serif;max-width:42rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><h1>{{.Site}}</h1>
{{range .Articles}}<p><a href="articles/{{.ID}}/">{{.Title}}</a></p>
{{else}}<p>Nothing is published on this site yet.</p>{{end}}
</body></html>
`))

func listArticles(w http.ResponseWriter, r *http.Request, store siteStore, site string, log *slog.Logger) {
	type entry struct{ ID, Title string }
	var ids []string
	prefix := PublicPrefix + site + "/articles/"
	for info, err := range store.List(r.Context(), prefix) {
		if err != nil {
			log.Error("site list", "site", site, "err", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		if id, ok := strings.CutSuffix(strings.TrimPrefix(info.Key, prefix), "/ninjs.json"); ok {
			ids = append(ids, id)
		}
	}
	slices.Reverse(ids) // ids are ULIDs: newest last in key order
	var entries []entry
	for _, id := range ids[:min(len(ids), listLimit)] {
		e := entry{ID: id, Title: id}
		if data, err := store.Get(r.Context(), prefix+id+"/ninjs.json"); err == nil {
			var doc struct {
				Headlines []struct{ Value string } `json:"headlines"`
			}
			if json.Unmarshal(data, &doc) == nil && len(doc.Headlines) > 0 && doc.Headlines[0].Value != "" {
				e.Title = doc.Headlines[0].Value
			}
		}
		entries = append(entries, e)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = listPage.Execute(w, struct {
		Site     string
		Articles []entry
	}{site, entries})
}
