package ingest

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pressline/pressline/pkg/client"
)

// TestPanicIsAProblem: a handler that panics answers 500 with a problem
// document that says what to do, and the server goes on.
func TestPanicIsAProblem(t *testing.T) {
	var logged strings.Builder
	s := &Service{log: slog.New(slog.NewTextHandler(&logged, nil))}
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		code    int
		problem bool
	}{
		{"before answering", func(http.ResponseWriter, *http.Request) { panic("nil pointer in the parser") }, 500, true},
		{"after answering", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted); panic("late") }, 202, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rec := &recorder{ResponseWriter: w, code: http.StatusOK}
			s.serve("submit", tc.h, rec, httptest.NewRequest("POST", "/v1/articles", nil))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			if !tc.problem {
				return
			}
			var p client.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type != client.ProblemTypePrefix+"internal" || !strings.Contains(p.Detail, "Idempotency-Key") {
				t.Errorf("problem %+v (%v), content type %q", p, err, w.Header().Get("Content-Type"))
			}
			if w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", w.Header().Get("Content-Type"))
			}
		})
	}
	if !strings.Contains(logged.String(), "nil pointer in the parser") {
		t.Errorf("the panic was not logged:\n%s", logged.String())
	}
}
