package publish

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/layout"
)

type siteStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// SiteHandler serves the public prefix of the bucket over HTTP, as a CDN or
// MinIO's public bucket would in production; `pressline dev` uses it so a
// person can read what was published: a site's home page, feeds and
// articles, and the image renditions.
// smallObject is the size below which the site reads an object whole.
const smallObject = 1 << 20

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
		rc, info, err := store.Open(r.Context(), layout.Public(p))
		if errors.Is(err, blob.ErrNotFound) {
			http.Error(w, "not found: nothing is published at "+r.URL.Path, http.StatusNotFound)
			return
		}
		if err != nil {
			log.Error("site", "path", r.URL.Path, "err", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		defer rc.Close()
		var body io.Reader = rc
		if info.Size <= smallObject {
			// Pages and feeds are small and rewritten in place: read
			// them whole, which survives a rewrite during the read
			// (blob.Get reads again), before answering.
			data, err := store.Get(r.Context(), layout.Public(p))
			if err != nil {
				log.Error("site", "path", r.URL.Path, "err", err)
				http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
				return
			}
			body = bytes.NewReader(data)
		}
		w.Header().Set("Content-Type", info.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.Copy(w, body)
	})
}
