package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/pkg/webhook"
)

// siteEvents reads a site's events after a cursor, and follows every
// site's events for the site index (the bus).
type siteEvents interface {
	SiteEvents(ctx context.Context, site string, after uint64, limit int) ([]bus.SiteEvent, error)
	FollowSites(ctx context.Context, after uint64, apply func(bus.SiteEvent), caughtUp func()) error
	// Redeliver sends one event to one webhook subscriber again.
	Redeliver(ctx context.Context, seq uint64, subject, msgID string) error
	// SendWebhookTest sends one webhook subscriber a test event.
	SendWebhookTest(ctx context.Context, subject, id string) error
}

// change is one entry of GET /v1/sites/{site}/changes: the event's
// webhook body (type, timestamp, data), with the cursor it is at.
type change struct {
	Cursor string `json:"cursor"`
	webhook.Body
}

// handleChanges answers a site's published, updated and withdrawn events
// in the order they happened, after the cursor given, so a downstream
// site that was away catches up over HTTP without NATS.
func (s *Service) handleChanges(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if !s.authenticateSite(w, r, site) {
		return
	}
	q := r.URL.Query()
	after, ok := queryAfter(w, q, "the cursor of a change")
	if !ok {
		return
	}
	limit, ok := queryLimit(w, q, 100)
	if !ok {
		return
	}
	if s.cfg.SiteEvents == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "this server does not serve site changes"})
		return
	}
	evs, err := s.cfg.SiteEvents.SiteEvents(r.Context(), site, after, limit)
	if err != nil {
		s.log.Error("site changes", "site", site, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "the site's events are unavailable; try again in a few seconds"})
		return
	}
	page := struct {
		Changes []change `json:"changes"`
		// Next is the cursor to ask after for what comes later: the last
		// change's, or the one asked after when there was none.
		Next string `json:"next"`
	}{Changes: []change{}, Next: strconv.FormatUint(after, 10)}
	for _, e := range evs {
		body, err := webhook.NewBody(e.Event)
		if err != nil {
			s.log.Error("site change", "site", site, "article_id", e.Event.GetArticle().GetId(), "err", err)
			writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Detail: "a change could not be rendered"})
			return
		}
		cur := strconv.FormatUint(e.Seq, 10)
		page.Changes = append(page.Changes, change{Cursor: cur, Body: body})
		page.Next = cur
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// authenticateSite checks that the request carries the read token of
// site; it answers 401 or 403 otherwise.
func (s *Service) authenticateSite(w http.ResponseWriter, r *http.Request, site string) bool {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "unauthenticated", Field: "Authorization",
			Detail: "send the site's read token as 'Authorization: Bearer <token>'"})
		return false
	}
	reader := holder(token, s.cfg.SiteReaders, func(r *config.SiteReader) []byte { return r.TokenHash[:] })
	switch {
	case reader == nil:
		writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "invalid-token", Field: "Authorization",
			Detail: "the token is not a site's read token (--site-tokens); check it, or ask an operator for one"})
		return false
	case reader.Site != site:
		writeProblem(w, problem{Status: http.StatusForbidden, Type: "site-not-allowed", Field: "site",
			Detail: "this token reads site " + strconv.Quote(reader.Site) + " only"})
		return false
	}
	return true
}
