package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// handleWithdraw takes an article down: POST /v1/articles/{id}/withdraw
// (optional JSON body {"reason": "…"}) or DELETE /v1/articles/{id}. The
// withdrawal is the article's next version, so a late delivery of an
// older one cannot bring the page back. Withdrawing twice is answered as
// done.
func (s *Service) handleWithdraw(w http.ResponseWriter, r *http.Request) {
	nr, ok := s.authenticate(w, r)
	if !ok || !s.allow(w, nr.Name) {
		return
	}
	id, ok := articleID(w, r)
	if !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096)); err == nil && len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-json", Field: "body",
				Detail: `the body must be empty or JSON like {"reason": "legal request"}`})
			return
		}
	}
	st, err := s.cfg.Status.Get(r.Context(), id)
	if errors.Is(err, status.ErrNotFound) {
		// Accepted (the original is durable) but its status not written
		// yet (the write failed, or the event waits for the
		// reconciler): the article exists, and "not found" would tell
		// the newsroom there is nothing to take down.
		if ref, _, serr := s.storedRef(r.Context(), layout.Original(id, 1)); serr == nil && ref.GetNewsroom() == nr.Name {
			w.Header().Set("Retry-After", "2")
			writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "not-yet-recorded", Field: "id",
				Detail: "article " + id + " was accepted but its status is not recorded yet; send the withdrawal again in a few seconds"})
			return
		}
	}
	if errors.Is(err, status.ErrNotFound) || (err == nil && st.GetArticle().GetNewsroom() != nr.Name) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "article-not-found", Field: "id",
			Detail: "no article " + id + " from this newsroom; check the id returned when it was submitted"})
		return
	}
	if err != nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "status is unavailable; try again in a few seconds"})
		return
	}
	ref := proto.Clone(st.GetArticle()).(*pb.ArticleRef)
	if st.GetState() == status.Withdrawn {
		writeAccepted(w, http.StatusOK, id, ref.GetVersion())
		return
	}
	// A withdrawal already on its way is sent again as the same version,
	// which the stream drops as a duplicate; otherwise it takes the next
	// version, given out where corrections get theirs, so the two never
	// share one and no correction can follow it.
	if !withdrawalPending(st) {
		v, err := s.cfg.Refs.NextVersion(r.Context(), id, ref.GetVersion(), true)
		if err != nil {
			s.log.Error("withdrawal version", "article_id", id, "err", err)
			writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
				Detail: "the withdrawal could not be given a version; send it again in a few seconds"})
			return
		}
		ref.Version = v
	}
	ref.ReceivedAt = timestamppb.New(s.now())
	ref.Uploads = nil
	ev := &pb.Withdraw{Article: ref, Reason: body.Reason}
	if err := s.cfg.Bus.Publish(r.Context(), layout.WithdrawSubject(ref.GetId()), bus.MsgID(ref, "withdraw"), ref, ev); err != nil {
		s.log.Error("withdraw not sent", "article_id", id, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "the withdrawal could not be stored durably; send it again in a few seconds"})
		return
	}
	detail := withdrawalRequested
	if body.Reason != "" {
		detail += ": " + body.Reason
	}
	if err := s.cfg.Status.Record(r.Context(), ref, status.Step{Stage: "ingest", State: status.Received, Detail: detail}); err != nil {
		s.log.Warn("status not recorded", "article_id", id, "err", err)
	}
	s.log.Info("withdrawal requested", "article_id", id, "version", ref.Version)
	writeAccepted(w, http.StatusAccepted, id, ref.Version)
}

// withdrawalPending: the article's current version is a withdrawal that
// publish has not carried out yet.
func withdrawalPending(st *pb.ArticleStatus) bool {
	h := st.GetHistory()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].GetVersion() == st.GetArticle().GetVersion() && h[i].GetStage() == "ingest" {
			return strings.HasPrefix(h[i].GetDetail(), withdrawalRequested)
		}
	}
	return false
}

const withdrawalRequested = "withdrawal requested"
