package ingest

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/pressline/pressline/internal/bus"
)

// deadLetterStore reads the dead letters (bus.Bus).
type deadLetterStore interface {
	DeadLetters(ctx context.Context) iter.Seq2[bus.DeadLetterRecord, error]
}

// deadLetter is one dead letter as operators read it: what failed,
// where, why, and how long ago; not the message itself.
type deadLetter struct {
	ID         uint64    `json:"id"`
	Stage      string    `json:"stage"`
	Subject    string    `json:"subject"`
	ArticleID  string    `json:"article_id,omitempty"`
	Version    uint32    `json:"version,omitempty"`
	Error      string    `json:"error"`
	Permanent  bool      `json:"permanent"`
	Attempts   uint32    `json:"attempts"`
	FailedAt   time.Time `json:"failed_at"`
	AgeSeconds int64     `json:"age_seconds"`
	// Replay is the command that sends it back to its stage.
	Replay string `json:"replay"`
}

type deadLetterList struct {
	DeadLetters []deadLetter `json:"dead_letters"`
	Next        string       `json:"next,omitempty"`
}

// handleDeadLetters is GET /v1/deadletters: the dead letters, oldest
// first, of one stage (?stage=) or all. Replaying stays with `pressline
// dlq replay`, under the operator's NATS user: from here ingest would
// have to be allowed to publish every stage's input.
func (s *Service) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	if s.cfg.DeadLetters == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "this server cannot read the dead letters"})
		return
	}
	q := r.URL.Query()
	limit, ok := queryLimit(w, q, 100)
	if !ok {
		return
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "after",
				Detail: "after must be the next of an earlier page, a whole number"})
			return
		}
		after = n
	}
	stage := q.Get("stage")
	out := deadLetterList{DeadLetters: []deadLetter{}}
	now := s.now()
	for rec, err := range s.cfg.DeadLetters.DeadLetters(r.Context()) {
		if err != nil {
			s.log.Error("dead letters", "err", err)
			writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "the dead letters could not be read; try again in a few seconds"})
			return
		}
		if rec.ID <= after || (stage != "" && rec.GetStage() != stage) {
			continue
		}
		if len(out.DeadLetters) == limit {
			out.Next = strconv.FormatUint(out.DeadLetters[limit-1].ID, 10)
			break
		}
		failed := rec.GetFailedAt().AsTime()
		out.DeadLetters = append(out.DeadLetters, deadLetter{ID: rec.ID, Stage: rec.GetStage(), Subject: rec.GetSubject(),
			ArticleID: rec.GetArticleId(), Version: rec.GetArticleVersion(), Error: rec.GetError(), Permanent: rec.GetPermanent(),
			Attempts: rec.GetAttempts(), FailedAt: failed, AgeSeconds: int64(now.Sub(failed).Seconds()),
			Replay: fmt.Sprintf("pressline dlq replay %d", rec.ID)})
	}
	answerJSON(w, http.StatusOK, out)
}
