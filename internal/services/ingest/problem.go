package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/pressline/pressline/pkg/client"
)

// problem is an RFC 9457 problem detail; handlers set its Type to the
// code alone (urn:pressline:problem: is added when it is written).
type problem = client.Problem

func writeProblem(w http.ResponseWriter, p problem) {
	p.Type = client.ProblemTypePrefix + p.Type
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pressline"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// articleID is the request's {id}, or false after answering 400 when it
// cannot be an article id: every id Pressline gives out is a ULID, and
// anything else (wildcards, NUL, path tricks) must not reach a bucket
// key, whose refusal would be a 503.
func articleID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if _, err := ulid.ParseStrict(id); err != nil {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-id", Field: "id",
			Detail: fmt.Sprintf("%q is not an article id: ids are the 26-character ULIDs returned when an article is accepted", clip(id, 64))})
		return "", false
	}
	return strings.ToUpper(id), true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// problemMux answers what the mux itself refuses (no such path, a
// method the path does not take) as problem+json, like every other
// answer of the API.
func problemMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // which sets the path's values; h would not
			return
		}
		probe := &codeProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeProblem(w, problem{Status: http.StatusMethodNotAllowed, Type: "method-not-allowed",
				Detail: fmt.Sprintf("%s does not take %s; it takes %s", r.URL.Path, r.Method, probe.header.Get("Allow"))})
		case http.StatusNotFound:
			writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-endpoint",
				Detail: r.URL.Path + " is not an endpoint of this API; /openapi.json lists them"})
		default: // a redirect the mux makes (a cleaned path): as it is
			mux.ServeHTTP(w, r)
		}
	})
}

// codeProbe records what a mux's own fallback answers, to answer it
// again as a problem.
type codeProbe struct {
	header http.Header
	code   int
}

func (p *codeProbe) Header() http.Header         { return p.header }
func (p *codeProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *codeProbe) WriteHeader(code int)        { p.code = code }
