package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/internal/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var statusJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

// ownArticle is the status of the request's {id}, an article of the
// token's newsroom; false after answering.
func (s *Service) ownArticle(w http.ResponseWriter, r *http.Request) (*pb.ArticleStatus, bool) {
	nr, ok := s.authenticate(w, r)
	if !ok {
		return nil, false
	}
	id, ok := articleID(w, r)
	if !ok {
		return nil, false
	}
	st, err := s.cfg.Status.Get(r.Context(), id)
	// Another newsroom's article is reported as missing, so ids do not
	// leak what others publish.
	if errors.Is(err, status.ErrNotFound) || (err == nil && st.GetArticle().GetNewsroom() != nr.Name) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "article-not-found", Field: "id",
			Detail: "no article " + id + " from this newsroom; check the id returned when it was submitted"})
		return nil, false
	}
	if err != nil {
		s.log.Error("status read", "article_id", id, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "status is unavailable; try again in a few seconds"})
		return nil, false
	}
	return st, true
}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := s.ownArticle(w, r)
	if !ok {
		return
	}
	out, err := statusJSON.Marshal(st)
	if err != nil {
		writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Detail: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// queryLimit is the request's limit (1 to 500), def when it names none,
// or false after answering 400.
func queryLimit(w http.ResponseWriter, q url.Values, def int) (int, bool) {
	v := q.Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "limit", Limit: 500,
			Detail: "limit must be a whole number from 1 to 500"})
		return 0, false
	}
	return n, true
}

// queryAfter is the request's after, a sequence cursor (0 when absent),
// or false after answering 400 with what gave it.
func queryAfter(w http.ResponseWriter, q url.Values, gave string) (uint64, bool) {
	v := q.Get("after")
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "after",
			Detail: "after must be " + gave + " (a whole number, as in a page's next), or absent to start from the first"})
		return 0, false
	}
	return n, true
}

// queryTime reads query parameter name as an RFC 3339 time; absent is
// the zero time.
func queryTime(w http.ResponseWriter, q url.Values, name string) (time.Time, bool) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: name,
			Detail: name + " must be an RFC 3339 time like 2026-11-26T00:00:00Z"})
		return time.Time{}, false
	}
	return t, true
}

// handleList lists the newsroom's articles, newest first:
// GET /v1/articles?status=published&since=2026-11-26T00:00:00Z&limit=50&page=<token>.
func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	nr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := status.Filter{Newsroom: nr.Name, State: q.Get("status"), Before: q.Get("page"), Limit: 50}
	if nrq := q.Get("newsroom"); nrq != "" && nrq != nr.Name {
		writeProblem(w, problem{Status: http.StatusForbidden, Type: "other-newsroom", Field: "newsroom",
			Detail: "a token lists its own newsroom's articles only"})
		return
	}
	if f.State != "" && !validStates[f.State] {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "status",
			Detail: "status must be one of received, cleaned, media_ready, embargoed, published, withdrawn, failed"})
		return
	}
	if f.Since, ok = queryTime(w, q, "since"); !ok {
		return
	}
	f.Title, f.Warning, f.Site = q.Get("q"), q.Get("warning"), q.Get("site")
	for _, p := range []struct{ name, v string }{{"q", f.Title}, {"warning", f.Warning}, {"site", f.Site}} {
		if len(p.v) > 200 {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: p.name, Limit: 200,
				Detail: p.name + " is at most 200 bytes"})
			return
		}
	}
	if f.Limit, ok = queryLimit(w, q, f.Limit); !ok {
		return
	}
	list, next, err := s.cfg.Articles.List(r.Context(), f)
	if errors.Is(err, status.ErrIndexNotReady) {
		indexLoading(w, "article index is still reading the status bucket")
		return
	}
	if err != nil {
		s.log.Error("status list", "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "status is unavailable; try again in a few seconds"})
		return
	}
	var b strings.Builder
	b.WriteString(`{"articles":[`)
	for i, st := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		out, err := statusJSON.Marshal(st)
		if err != nil {
			writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Detail: err.Error()})
			return
		}
		b.Write(out)
	}
	b.WriteString(`]`)
	if next != "" {
		q.Set("page", next)
		fmt.Fprintf(&b, `,"next":%q`, "/v1/articles?"+q.Encode())
	}
	b.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(b.String()))
}

var validStates = map[string]bool{status.Received: true, status.Cleaned: true, status.MediaReady: true, status.Embargoed: true,
	status.Published: true, status.Withdrawn: true, status.Failed: true}

func writeJSON(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
