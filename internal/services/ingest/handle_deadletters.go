package ingest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// deadLetterStore reads and replays the dead letters (bus.Bus).
type deadLetterStore interface {
	DeadLetters(ctx context.Context) iter.Seq2[bus.DeadLetterRecord, error]
	DeadLetter(ctx context.Context, id uint64) (bus.DeadLetterRecord, error)
	ReplayDeadLetter(ctx context.Context, id uint64) (*pb.DeadLetter, error)
}

// mayReplay reports whether the API replays a dead letter sent on
// subject: only what ingest may send itself (an article received, a
// withdrawal, a webhook delivery to one subscriber). The others (clean's
// and imageproc's output) would let ingest forge a stage's work, so they
// stay with `pressline dlq replay` under the operator's NATS user.
func mayReplay(subject string) bool {
	return subject == layout.SubjectReceived || matchSubject(layout.WithdrawAll, subject) || matchSubject(layout.WebhookSubject("*"), subject)
}

// matchSubject matches a subject against a pattern whose * stand for one
// token each.
func matchSubject(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	if len(p) != len(s) {
		return false
	}
	for i := range p {
		if p[i] != "*" && p[i] != s[i] {
			return false
		}
	}
	return true
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
	// Replay is the command that sends it back to its stage;
	// Replayable says whether POST /v1/deadletters/{id}/replay does too.
	Replay     string `json:"replay"`
	Replayable bool   `json:"replayable"`
}

type deadLetterList struct {
	DeadLetters []deadLetter `json:"dead_letters"`
	Next        string       `json:"next,omitempty"`
}

// handleDeadLetters is GET /v1/deadletters: the dead letters, oldest
// first, of one stage (?stage=) or all.
func (s *Service) handleDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) || !s.deadLettersKept(w) {
		return
	}
	q := r.URL.Query()
	limit, ok := queryLimit(w, q, 100)
	if !ok {
		return
	}
	after, ok := queryAfter(w, q, "the next of an earlier page")
	if !ok {
		return
	}
	stage := q.Get("stage")
	out := deadLetterList{DeadLetters: []deadLetter{}}
	now := s.now()
	for rec, err := range s.cfg.DeadLetters.DeadLetters(r.Context()) {
		if err != nil {
			s.deadLettersUnavailable(w, err)
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
			Replay: fmt.Sprintf("pressline dlq replay %d", rec.ID), Replayable: mayReplay(rec.GetSubject())})
	}
	answerJSON(w, http.StatusOK, out)
}

// replayed is the answer of a replay.
type replayed struct {
	// Replayed are the ids sent back to their stage; Left those of the
	// stage asked that only `pressline dlq replay` replays.
	Replayed []uint64 `json:"replayed"`
	Left     []uint64 `json:"left,omitempty"`
}

// maxReplay bounds the dead letters one request replays.
const maxReplay = 1000

// handleReplayDeadLetter is POST /v1/deadletters/{id}/replay: the dead
// letter goes back to its stage, as it was first delivered, and its
// record is removed; if the stage fails again, a new one is made.
func (s *Service) handleReplayDeadLetter(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) || !s.deadLettersKept(w) {
		return
	}
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-dead-letter", Field: "id",
			Detail: "dead letters are named by number; GET /v1/deadletters lists them"})
		return
	}
	found, err := s.cfg.DeadLetters.DeadLetter(r.Context(), id)
	if errors.Is(err, bus.ErrNoDeadLetter) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-dead-letter", Field: "id",
			Detail: fmt.Sprintf("no dead letter %d (replayed already?); GET /v1/deadletters lists them", id)})
		return
	}
	if err != nil {
		s.deadLettersUnavailable(w, err)
		return
	}
	if !mayReplay(found.GetSubject()) {
		writeProblem(w, problem{Status: http.StatusConflict, Type: "replay-by-operator", Field: "id",
			Detail: fmt.Sprintf("dead letter %d of %s is replayed with `pressline dlq replay %d` under the operator's NATS user: the API replays only articles received, withdrawals and webhook deliveries", id, found.GetStage(), id)})
		return
	}
	s.replay(w, r, []uint64{id}, nil)
}

// handleReplayDeadLetters is POST /v1/deadletters/replay with
// {"stage": "…"}: every dead letter of that stage the API may replay.
func (s *Service) handleReplayDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) || !s.deadLettersKept(w) {
		return
	}
	var req struct {
		Stage string `json:"stage"`
	}
	if !readJSON(w, r, &req, `{"stage": "webhook-partner"}`) {
		return
	}
	if req.Stage == "" {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "stage",
			Detail: `name the stage whose dead letters to replay, like {"stage": "webhook-partner"}`})
		return
	}
	var ids, left []uint64
	for rec, err := range s.cfg.DeadLetters.DeadLetters(r.Context()) {
		if err != nil {
			s.deadLettersUnavailable(w, err)
			return
		}
		switch {
		case rec.GetStage() != req.Stage:
		case !mayReplay(rec.GetSubject()):
			left = append(left, rec.ID)
		case len(ids) < maxReplay:
			ids = append(ids, rec.ID)
		}
	}
	s.replay(w, r, ids, left)
}

// replay sends ids back to their stages and answers what it did.
func (s *Service) replay(w http.ResponseWriter, r *http.Request, ids, left []uint64) {
	out := replayed{Replayed: []uint64{}, Left: left}
	for _, id := range ids {
		dl, err := s.cfg.DeadLetters.ReplayDeadLetter(r.Context(), id)
		if errors.Is(err, bus.ErrNoDeadLetter) {
			continue // replayed meanwhile
		}
		if err != nil {
			s.deadLettersUnavailable(w, err)
			return
		}
		s.log.Info("dead letter replayed", "id", id, "stage", dl.GetStage(), "article_id", dl.GetArticleId())
		out.Replayed = append(out.Replayed, id)
	}
	answerJSON(w, http.StatusAccepted, out)
}

func (s *Service) deadLettersKept(w http.ResponseWriter) bool {
	if s.cfg.DeadLetters == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "this server cannot read the dead letters"})
		return false
	}
	return true
}

func (s *Service) deadLettersUnavailable(w http.ResponseWriter, err error) {
	s.log.Error("dead letters", "err", err)
	writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "the dead letters could not be read or replayed; try again in a few seconds"})
}
