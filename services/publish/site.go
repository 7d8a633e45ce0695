package publish

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/pressline/pressline/pkg/blob"
)

type siteStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
}

// SiteHandler serves the public prefix of the bucket over HTTP, as a CDN or
// MinIO's public bucket would in production; `pressline dev` uses it so a
// person can read what was published: a site's home page, feeds and
// articles, and the image renditions.
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
