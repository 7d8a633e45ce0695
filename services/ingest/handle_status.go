package ingest

import (
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/pkg/status"
)

var statusJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	nr, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	st, err := s.cfg.Status.Get(r.Context(), id)
	// Another newsroom's article is reported as missing, so ids do not
	// leak what others publish.
	if errors.Is(err, status.ErrNotFound) || (err == nil && st.GetArticle().GetNewsroom() != "" && st.GetArticle().GetNewsroom() != nr.Name) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "article-not-found", Field: "id",
			Detail: "no article " + id + " from this newsroom; check the id returned when it was submitted"})
		return
	}
	if err != nil {
		s.log.Error("status read", "article_id", id, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "status is unavailable; try again in a few seconds"})
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

func writeJSON(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
