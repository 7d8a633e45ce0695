package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/render"
	"github.com/pressline/pressline/internal/slug"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// An article's versions as clean made them (cleaned.json, which clean
// keeps for editors): the document itself, its ninjs, and a preview of
// its page, rendered as publish renders it but from the cleaned article,
// before its photos' renditions exist.

// version reads the request's {version} of an article the newsroom
// owns, and its cleaned article; false after answering.
func (s *Service) version(w http.ResponseWriter, r *http.Request) (*pb.ArticleStatus, uint32, []byte, bool) {
	st, ok := s.ownArticle(w, r)
	if !ok {
		return nil, 0, nil, false
	}
	v, err := strconv.ParseUint(r.PathValue("version"), 10, 32)
	current := st.GetArticle().GetVersion()
	if err != nil || v < 1 || uint32(v) > current {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-version", Field: "version",
			Detail: fmt.Sprintf("article %s has versions 1 to %d", st.GetArticle().GetId(), current)})
		return nil, 0, nil, false
	}
	doc, err := s.cfg.Blobs.Get(r.Context(), layout.CleanedJSON(st.GetArticle().GetId(), uint32(v)))
	if errors.Is(err, blob.ErrNotFound) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "not-yet-cleaned", Field: "version",
			Detail: fmt.Sprintf("version %d of %s is not cleaned yet (or was withdrawn before it was); its status says where it is", v, st.GetArticle().GetId())})
		return nil, 0, nil, false
	}
	if err != nil {
		s.log.Error("cleaned article read", "article_id", st.GetArticle().GetId(), "version", v, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "the cleaned article could not be read; try again in a few seconds"})
		return nil, 0, nil, false
	}
	return st, uint32(v), doc, true
}

// handleVersion is GET /v1/articles/{id}/versions/{version}: the cleaned
// article, as clean stored it.
func (s *Service) handleVersion(w http.ResponseWriter, r *http.Request) {
	_, _, doc, ok := s.version(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

// handlePreview is GET /v1/articles/{id}/versions/{version}/preview: the
// version's page, under the page's own Content-Security-Policy.
func (s *Service) handlePreview(w http.ResponseWriter, r *http.Request) {
	s.rendered(w, r, "text/html; charset=utf-8", s.renderer.Page)
}

// handleVersionNinjs is GET /v1/articles/{id}/versions/{version}/ninjs:
// the version's ninjs document.
func (s *Service) handleVersionNinjs(w http.ResponseWriter, r *http.Request) {
	s.rendered(w, r, "application/json", render.NinjsDoc)
}

// rendered answers what make makes of the request's version, for its
// first site, as publish would make it now.
func (s *Service) rendered(w http.ResponseWriter, r *http.Request, contentType string, make func(*pb.Article, render.Meta) ([]byte, error)) {
	st, v, doc, ok := s.version(w, r)
	if !ok {
		return
	}
	var article pb.Article
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(doc, &article); err != nil {
		s.log.Error("cleaned article unreadable", "article_id", st.GetArticle().GetId(), "version", v, "err", err)
		writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Detail: "the cleaned article could not be read back"})
		return
	}
	m := renderMeta(st.GetArticle(), &article, v, st.GetUrls(), s.cfg.SiteURL, s.now())
	out, err := make(&article, m)
	if err != nil {
		s.log.Error("preview", "article_id", m.ID, "version", v, "err", err)
		writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Detail: "the version could not be rendered"})
		return
	}
	if strings.HasPrefix(contentType, "text/html") {
		w.Header().Set("Content-Security-Policy", s.renderer.CSP(m))
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(out)
}

// renderMeta is what publish would know of the version if it went out
// now on the article's first site: the URL it has, or the one it would
// get.
func renderMeta(ref *pb.ArticleRef, a *pb.Article, v uint32, urls []string, siteURL string, now time.Time) render.Meta {
	m := render.Meta{ID: ref.GetId(), Version: v, Received: ref.GetReceivedAt().AsTime(), Published: now, PublicBase: siteURL}
	if sites := ref.GetSites(); len(sites) > 0 {
		m.Site, m.SiteTitle = sites[0], sites[0]
		m.URL = siteURL + "/" + layout.ArticlePath(m.Site, slug.WithID(slug.Make(a.GetTitle()), ref.GetId()))
	}
	if len(urls) > 0 {
		m.URL = urls[0]
	}
	return m
}
