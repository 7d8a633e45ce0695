package ingest

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/pressline/pressline/internal/config"
)

// bearer is the request's bearer token. The scheme is case-insensitive
// (RFC 9110, section 11.1).
func bearer(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	return token, strings.EqualFold(scheme, "Bearer") && token != ""
}

// holder is the entry of list whose token hash (hashOf) is token's, or
// nil: tokens are kept hashed and compared in constant time.
func holder[T any](token string, list []T, hashOf func(*T) []byte) *T {
	h := config.HashToken(token)
	for i := range list {
		if subtle.ConstantTimeCompare(h[:], hashOf(&list[i])) == 1 {
			return &list[i]
		}
	}
	return nil
}

// authenticate finds the newsroom whose token the request carries.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (*config.Newsroom, bool) {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "unauthenticated", Field: "Authorization",
			Detail: "send the newsroom's API token as 'Authorization: Bearer <token>'"})
		return nil, false
	}
	if nr := holder(token, s.cfg.Newsrooms, func(n *config.Newsroom) []byte { return n.TokenHash[:] }); nr != nil {
		return nr, true
	}
	writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "invalid-token", Field: "Authorization",
		Detail: "the API token is not one of a configured newsroom; check it, or ask an operator for a new one"})
	return nil, false
}

// allow takes one write from the newsroom's budget, or answers 429 with
// how long to wait.
func (s *Service) allow(w http.ResponseWriter, newsroom string) bool {
	l := s.limits[newsroom]
	if l == nil {
		return true
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeProblem(w, problem{Status: http.StatusTooManyRequests, Type: "rate-limited", Limit: int64(s.cfg.RatePerSecond),
			Detail: fmt.Sprintf("newsroom %q sends faster than %g articles per second; wait %d s and send again", newsroom, s.cfg.RatePerSecond, secs)})
		return false
	}
	return true
}
