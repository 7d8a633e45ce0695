package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/webhooks"
)

// The webhook delivery log (webhooks.Log, written by notify): every
// attempt, read per subscriber and per event, and redelivery by hand of
// one event or of every one that failed in a time range.

// webhookLog reads the delivery attempts (webhooks.Log).
type webhookLog interface {
	Attempts(ctx context.Context, q webhooks.Query) ([]webhooks.Attempt, bool, error)
}

// webhookIDPattern is a webhook-id as notify makes them (and a subject
// token, which the log is filtered by).
var webhookIDPattern = regexp.MustCompile(`^msg_[A-Za-z0-9_-]{1,200}$`)

// maxRedeliverScan bounds the attempts one redelivery of a time range
// reads, and so the events it sends again.
const maxRedeliverScan = 10_000

// attemptList is the answer of GET /v1/webhooks/{name}/attempts.
type attemptList struct {
	Attempts []webhooks.Attempt `json:"attempts"`
	// Next is the after of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

// redelivery is the body of POST /v1/webhooks/{name}/redeliver: one
// event, or every event whose delivery failed in a time range.
type redelivery struct {
	Event string `json:"event,omitempty"`
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
}

// redelivered is its answer.
type redelivered struct {
	// Events are the webhook-ids sent again, in the order they were.
	Events []string `json:"events"`
}

// handleWebhookAttempts is GET /v1/webhooks/{name}/attempts: the
// subscriber's delivery attempts, oldest first, optionally of one event
// (?event=<webhook-id>) or within since and until.
func (s *Service) handleWebhookAttempts(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loggedWebhook(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	query := webhooks.Query{Subscriber: name, WebhookID: q.Get("event")}
	if query.WebhookID != "" && !webhookIDPattern.MatchString(query.WebhookID) {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Field: "event",
			Detail: fmt.Sprintf("%q is not a webhook-id: they look like msg_<article>_v<version>_<site>_<event>, as the webhook-id header carried", clip(query.WebhookID, 64))})
		return
	}
	if query.After, ok = queryAfter(w, q, "the next of an earlier page"); !ok {
		return
	}
	if query.Since, ok = queryTime(w, q, "since"); !ok {
		return
	}
	if query.Until, ok = queryTime(w, q, "until"); !ok {
		return
	}
	if query.Limit, ok = queryLimit(w, q, 100); !ok {
		return
	}
	page, more, err := s.cfg.WebhookLog.Attempts(r.Context(), query)
	if err != nil {
		s.webhooksUnavailable(w, err)
		return
	}
	out := attemptList{Attempts: page}
	if out.Attempts == nil {
		out.Attempts = []webhooks.Attempt{}
	}
	if more {
		out.Next = strconv.FormatUint(page[len(page)-1].Seq, 10)
	}
	answerJSON(w, http.StatusOK, out)
}

// handleRedeliver is POST /v1/webhooks/{name}/redeliver: the event named
// (delivered or not), or every event whose last attempt between since
// and until failed for good, is sent to the subscriber again, as it was
// first stored, through its own replay subject. A receiver
// de-duplicates on webhook-id, which stays the same.
func (s *Service) handleRedeliver(w http.ResponseWriter, r *http.Request) {
	name, ok := s.loggedWebhook(w, r)
	if !ok {
		return
	}
	var req redelivery
	if !readJSON(w, r, &req, `{"event": "msg_…"} or {"since": "2026-12-01T00:00:00Z"}`) {
		return
	}
	var (
		attempts []webhooks.Attempt
		err      error
	)
	switch {
	case req.Event != "" && (req.Since != "" || req.Until != ""):
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "event",
			Detail: `give either an event ({"event": "msg_…"}) or a time range ({"since": "…", "until": "…"}), not both`})
		return
	case req.Event != "":
		if !webhookIDPattern.MatchString(req.Event) {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "event",
				Detail: fmt.Sprintf("%q is not a webhook-id: they look like msg_<article>_v<version>_<site>_<event>", clip(req.Event, 64))})
			return
		}
		attempts, _, err = s.cfg.WebhookLog.Attempts(r.Context(), webhooks.Query{Subscriber: name, WebhookID: req.Event, Limit: 1})
		if err == nil && len(attempts) == 0 {
			writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-attempt", Field: "event",
				Detail: fmt.Sprintf("no attempt to deliver %s to %s is in the log (it keeps --webhook-log-retention); GET /v1/webhooks/%s/attempts lists them", req.Event, name, name)})
			return
		}
	default:
		since, until, p := redeliveryRange(req, s.now())
		if p != nil {
			writeProblem(w, *p)
			return
		}
		var more bool
		attempts, more, err = s.cfg.WebhookLog.Attempts(r.Context(), webhooks.Query{Subscriber: name, Since: since, Until: until, Limit: maxRedeliverScan})
		if err == nil && more {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "since", Limit: maxRedeliverScan,
				Detail: fmt.Sprintf("more than %d attempts were made in that range: redeliver a shorter one at a time", maxRedeliverScan)})
			return
		}
	}
	if err != nil {
		s.webhooksUnavailable(w, err)
		return
	}
	seqs := webhooks.FailedEvents(attempts)
	if req.Event != "" {
		seqs = []uint64{attempts[0].EventSeq} // there is one: checked above
	}
	ids := make(map[uint64]string, len(attempts))
	for _, a := range attempts {
		ids[a.EventSeq] = a.WebhookID
	}
	out := redelivered{Events: []string{}}
	// The request's time names the copies: a redelivery asked again
	// sends them again, while a retried request within the second does
	// not send them twice.
	asked := strconv.FormatInt(s.now().Unix(), 10)
	for _, seq := range seqs {
		err := s.cfg.SiteEvents.Redeliver(r.Context(), seq, layout.WebhookSubject(name), "redeliver/"+name+"/"+strconv.FormatUint(seq, 10)+"/"+asked)
		if errors.Is(err, bus.ErrNoSiteEvent) {
			s.log.Warn("an event to redeliver is no longer stored", "subscriber", name, "webhook_id", ids[seq], "seq", seq)
			continue
		}
		if err != nil {
			s.webhooksUnavailable(w, err)
			return
		}
		out.Events = append(out.Events, ids[seq])
	}
	s.log.Info("webhooks redelivered", "subscriber", name, "events", len(out.Events))
	answerJSON(w, http.StatusAccepted, out)
}

// sentTest is the answer of POST /v1/webhooks/{name}/test.
type sentTest struct {
	WebhookID string `json:"webhook_id"`
	// Attempts is where its outcome is read once notify has tried.
	Attempts string `json:"attempts"`
}

// handleTestWebhook is POST /v1/webhooks/{name}/test: notify sends the
// subscriber a signed test event (webhook.TestType) once, and records
// the attempt, which the answer says where to read.
func (s *Service) handleTestWebhook(w http.ResponseWriter, r *http.Request) {
	spec, ok := s.storedWebhook(w, r)
	if !ok {
		return
	}
	name := spec.Name
	if s.cfg.SiteEvents == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Detail: "this server cannot send webhook events"})
		return
	}
	if spec.Disabled {
		writeProblem(w, problem{Status: http.StatusConflict, Type: "webhook-disabled", Field: "name",
			Detail: fmt.Sprintf("%s is disabled (%s), so nothing is sent to it; enable it with PATCH /v1/webhooks/%s and {\"disabled\": false}, then test it", name, spec.DisabledReason, name)})
		return
	}
	id := "msg_test_" + ulid.Make().String()
	if err := s.cfg.SiteEvents.SendWebhookTest(r.Context(), layout.WebhookSubject(name), id); err != nil {
		s.webhooksUnavailable(w, err)
		return
	}
	s.log.Info("webhook test sent", "subscriber", name, "webhook_id", id)
	answerJSON(w, http.StatusAccepted, sentTest{WebhookID: id, Attempts: "/v1/webhooks/" + name + "/attempts?event=" + id})
}

// redeliveryRange reads a redelivery's time range: since is needed,
// until is now when absent.
func redeliveryRange(req redelivery, now time.Time) (since, until time.Time, p *problem) {
	if req.Since == "" {
		return since, until, &problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "since",
			Detail: `give the event to redeliver ({"event": "msg_…"}) or when the failures to redeliver began ({"since": "2026-12-01T00:00:00Z"})`}
	}
	since, err := time.Parse(time.RFC3339, req.Since)
	if err != nil {
		return since, until, &problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "since",
			Detail: "since must be an RFC 3339 time like 2026-12-01T00:00:00Z"}
	}
	until = now
	if req.Until != "" {
		if until, err = time.Parse(time.RFC3339, req.Until); err != nil || until.Before(since) {
			return since, until, &problem{Status: http.StatusBadRequest, Type: "invalid-redelivery", Field: "until",
				Detail: "until must be an RFC 3339 time like 2026-12-02T00:00:00Z, no earlier than since"}
		}
	}
	return since, until, nil
}

// loggedWebhook is the request's subscriber's name, for an operator, on
// a server that keeps the delivery log; false after answering.
func (s *Service) loggedWebhook(w http.ResponseWriter, r *http.Request) (string, bool) {
	spec, ok := s.storedWebhook(w, r)
	if !ok {
		return "", false
	}
	if s.cfg.WebhookLog == nil || s.cfg.SiteEvents == nil {
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "this server keeps no webhook delivery log"})
		return "", false
	}
	return spec.Name, true
}
