package ingest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// problem is an RFC 9457 problem detail. Type is stable: clients may
// switch on it; Detail is for people.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Field names the offending header, parameter or part, where one is.
	Field string `json:"field,omitempty"`
	// Limit is the limit that was exceeded, where one was.
	Limit int64 `json:"limit,omitempty"`
}

const problemBase = "urn:pressline:problem:"

func writeProblem(w http.ResponseWriter, p problem) {
	p.Type = problemBase + p.Type
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pressline"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
