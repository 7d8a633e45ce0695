package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/webhook"
)

// The webhooks API: operators create, read, change and delete the
// subscribers notify delivers to (webhooks.Store); notify follows the
// bucket, so a change applies without a restart.

// maxWebhookBody bounds an operator request's JSON (a subscriber's,
// say).
const maxWebhookBody = 64 << 10

// webhookList is the answer of GET /v1/webhooks.
type webhookList struct {
	Webhooks []config.WebhookSpec `json:"webhooks"`
}

// operator checks that the request carries an operator's token.
func (s *Service) operator(w http.ResponseWriter, r *http.Request) bool {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "unauthenticated", Field: "Authorization",
			Detail: "send an operator's API token as 'Authorization: Bearer <token>'"})
		return false
	}
	if holder(token, s.cfg.Operators, func(o *config.Operator) []byte { return o.TokenHash[:] }) != nil {
		return true
	}
	if holder(token, s.cfg.Newsrooms, func(n *config.Newsroom) []byte { return n.TokenHash[:] }) != nil {
		writeProblem(w, problem{Status: http.StatusForbidden, Type: "operators-only", Field: "Authorization",
			Detail: "webhook subscribers and dead letters are for operators: send an operator token (--operator-tokens), not a newsroom's"})
		return false
	}
	writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "invalid-token", Field: "Authorization",
		Detail: "the token is not an operator's (--operator-tokens); check it, or ask for one"})
	return false
}

// webhookName is the request's {name}, or false after answering 400.
func webhookName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !config.ValidName(name) {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-name", Field: "name",
			Detail: fmt.Sprintf("%q is not a subscriber's name: names are lower-case letters, digits, - and _, 63 at most", clip(name, 64))})
		return "", false
	}
	return name, true
}

// subscriberExample shows what a subscriber's JSON looks like, in
// answers to one that is not.
const subscriberExample = `{"name": "partner", "url": "https://…", "sites": ["front"], "events": ["published"]}`

// readJSON decodes an operator request's JSON body (a subscriber, a
// rotation, a redelivery, a replay; example shows one), or answers 400
// or 413.
func readJSON(w http.ResponseWriter, r *http.Request, into any, example string) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Field: "body", Limit: maxWebhookBody,
			Detail: fmt.Sprintf("the body is at most %d bytes of JSON", maxWebhookBody)})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(into)
	}
	if err != nil {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-json", Field: "body",
			Detail: fmt.Sprintf("the body must be JSON like %s: %v", example, err)})
		return false
	}
	return true
}

// checkWebhook answers 400, naming the field, when spec cannot be
// delivered to.
func checkWebhook(w http.ResponseWriter, spec config.WebhookSpec) bool {
	if p := webhookProblem(spec); p != nil {
		writeProblem(w, *p)
		return false
	}
	return true
}

// webhookProblem is why spec cannot be delivered to; nil when it can.
func webhookProblem(spec config.WebhookSpec) *problem {
	_, err := spec.Webhook()
	if err == nil {
		return nil
	}
	fe := &config.FieldError{Field: "body", Problem: err.Error()}
	errors.As(err, &fe)
	return &problem{Status: http.StatusBadRequest, Type: "invalid-webhook", Field: fe.Field, Detail: fe.Error()}
}

func (s *Service) webhooksUnavailable(w http.ResponseWriter, err error) {
	s.log.Error("webhook subscribers", "err", err)
	writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
		Detail: "the webhook subscribers could not be read or written; try again in a few seconds"})
}

// public is what the API shows of a subscriber: all but its secrets; a
// secret is shown once, when it is made (created or rotated).
func public(spec config.WebhookSpec) config.WebhookSpec {
	spec.Secret, spec.PreviousSecret = "", ""
	return spec
}

// handleCreateWebhook is POST /v1/webhooks: a new subscriber, with a
// secret made for it unless one is given. The answer shows the secret,
// the only time it is shown.
func (s *Service) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	var spec config.WebhookSpec
	if !readJSON(w, r, &spec, subscriberExample) {
		return
	}
	if spec.Secret == "" {
		spec.Secret = webhook.NewSecret()
	}
	// Deliveries begin now: a new subscriber hears of what is published
	// from its creation on, not of the sites' whole history.
	now := s.now().UTC().Truncate(time.Millisecond)
	spec.Created = &now
	if !checkWebhook(w, spec) {
		return
	}
	err := s.cfg.Webhooks.Create(r.Context(), spec)
	if errors.Is(err, webhooks.ErrExists) {
		writeProblem(w, problem{Status: http.StatusConflict, Type: "webhook-exists", Field: "name",
			Detail: fmt.Sprintf("a subscriber %q exists; change it with PATCH /v1/webhooks/%s, or choose another name", spec.Name, spec.Name)})
		return
	}
	if err != nil {
		s.webhooksUnavailable(w, err)
		return
	}
	s.log.Info("webhook subscriber created", "subscriber", spec.Name, "url", spec.URL)
	w.Header().Set("Location", "/v1/webhooks/"+spec.Name)
	answerJSON(w, http.StatusCreated, spec)
}

// handleListWebhooks is GET /v1/webhooks, by name.
func (s *Service) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	specs, err := s.cfg.Webhooks.List(r.Context())
	if err != nil {
		s.webhooksUnavailable(w, err)
		return
	}
	out := webhookList{Webhooks: []config.WebhookSpec{}}
	for _, spec := range specs {
		out.Webhooks = append(out.Webhooks, public(spec))
	}
	slices.SortFunc(out.Webhooks, func(a, b config.WebhookSpec) int { return strings.Compare(a.Name, b.Name) })
	answerJSON(w, http.StatusOK, out)
}

// handleGetWebhook is GET /v1/webhooks/{name}.
func (s *Service) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	if spec, ok := s.storedWebhook(w, r); ok {
		answerJSON(w, http.StatusOK, public(spec))
	}
}

// storedWebhook is the request's subscriber, for an operator; false
// after answering 401, 403, 400, 404 or 503.
func (s *Service) storedWebhook(w http.ResponseWriter, r *http.Request) (config.WebhookSpec, bool) {
	if !s.operator(w, r) {
		return config.WebhookSpec{}, false
	}
	name, ok := webhookName(w, r)
	if !ok {
		return config.WebhookSpec{}, false
	}
	spec, _, err := s.cfg.Webhooks.Get(r.Context(), name)
	return spec, s.webhookFound(w, name, err)
}

// handlePatchWebhook is PATCH /v1/webhooks/{name}, a JSON merge patch
// (RFC 7396) of the subscriber: {"disabled": true} stops deliveries,
// {"url": "…"} moves them; a new "secret" signs from then on.
func (s *Service) handlePatchWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	name, ok := webhookName(w, r)
	if !ok {
		return
	}
	var patch map[string]json.RawMessage
	if !readJSON(w, r, &patch, `{"disabled": true, "disabled_reason": "…"}`) {
		return
	}
	if raw, ok := patch["name"]; ok && string(raw) != fmt.Sprintf("%q", name) {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-webhook", Field: "name",
			Detail: "a subscriber's name cannot change: create one under the new name and delete this one"})
		return
	}
	if _, ok := patch["created"]; ok {
		writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-webhook", Field: "created",
			Detail: "when a subscriber's deliveries begin is set when it is created, and cannot change"})
		return
	}
	s.changeWebhook(w, r, name, func(spec *config.WebhookSpec) *problem {
		patched, err := mergePatch(*spec, patch)
		if err != nil {
			return &problem{Status: http.StatusBadRequest, Type: "invalid-json", Field: "body",
				Detail: fmt.Sprintf("the patch does not fit a subscriber: %v", err)}
		}
		if _, given := patch["disabled_reason"]; !patched.Disabled && !given {
			patched.DisabledReason = "" // enabled again: the reason is history
		}
		*spec = patched
		return nil
	}, func(spec config.WebhookSpec) {
		s.log.Info("webhook subscriber changed", "subscriber", name, "fields", slices.Sorted(maps.Keys(patch)))
		answerJSON(w, http.StatusOK, public(spec))
	})
}

// maxKeepPrevious bounds a rotation's overlap: a receiver that has not
// taken the new secret in a week is not switching.
const maxKeepPrevious = 7 * 24 * time.Hour

// rotation is the body of POST /v1/webhooks/{name}/rotate.
type rotation struct {
	// KeepPreviousFor is how long the old secret signs too (24h when
	// empty; "0s" ends it at once).
	KeepPreviousFor string `json:"keep_previous_for,omitempty"`
}

// handleRotateWebhook is POST /v1/webhooks/{name}/rotate: a new secret
// signs from now on, and the old one as well for the overlap asked, so
// the receiver can switch without refusing a delivery. The answer shows
// the new secret, the only time it is shown.
func (s *Service) handleRotateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	name, ok := webhookName(w, r)
	if !ok {
		return
	}
	var rot rotation
	if r.ContentLength != 0 && !readJSON(w, r, &rot, `{"keep_previous_for": "24h"}`) {
		return
	}
	keep := 24 * time.Hour
	if rot.KeepPreviousFor != "" {
		d, err := time.ParseDuration(rot.KeepPreviousFor)
		if err != nil || d < 0 || d > maxKeepPrevious {
			writeProblem(w, problem{Status: http.StatusBadRequest, Type: "invalid-rotation", Field: "keep_previous_for",
				Detail: fmt.Sprintf("%q: give how long the old secret still signs as a Go duration from 0s to %s, like \"24h\"", clip(rot.KeepPreviousFor, 32), maxKeepPrevious)})
			return
		}
		keep = d
	}
	secret := webhook.NewSecret()
	until := s.now().UTC().Add(keep).Truncate(time.Second)
	s.changeWebhook(w, r, name, func(spec *config.WebhookSpec) *problem {
		spec.PreviousSecret, spec.PreviousUntil = spec.Secret, &until
		if keep == 0 {
			spec.PreviousSecret, spec.PreviousUntil = "", nil
		}
		spec.Secret = secret
		return nil
	}, func(spec config.WebhookSpec) {
		s.log.Info("webhook secret rotated", "subscriber", name, "previous_until", until)
		shown := public(spec)
		shown.Secret = spec.Secret
		answerJSON(w, http.StatusOK, shown)
	})
}

// changeWebhook applies change to a stored subscriber and, if the result
// can be delivered to and is written, calls done with it; otherwise it
// answers the problem.
func (s *Service) changeWebhook(w http.ResponseWriter, r *http.Request, name string, change func(*config.WebhookSpec) *problem, done func(config.WebhookSpec)) {
	var refused *problem
	spec, err := s.cfg.Webhooks.Change(r.Context(), name, func(spec *config.WebhookSpec) error {
		if refused = change(spec); refused == nil {
			refused = webhookProblem(*spec)
		}
		if refused != nil {
			return errRefused
		}
		return nil
	})
	switch {
	case refused != nil:
		writeProblem(w, *refused)
	case !s.webhookFound(w, name, err):
	default:
		done(spec)
	}
}

// errRefused stops a change whose problem is answered.
var errRefused = errors.New("refused")

// handleDeleteWebhook is DELETE /v1/webhooks/{name}: nothing more is
// delivered to it.
func (s *Service) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	name, ok := webhookName(w, r)
	if !ok {
		return
	}
	if !s.webhookFound(w, name, s.cfg.Webhooks.Delete(r.Context(), name)) {
		return
	}
	s.log.Info("webhook subscriber deleted", "subscriber", name)
	w.WriteHeader(http.StatusNoContent)
}

// webhookFound answers 404 or 503 for a lookup's error; true when there
// was none.
func (s *Service) webhookFound(w http.ResponseWriter, name string, err error) bool {
	if errors.Is(err, webhooks.ErrNotFound) {
		writeProblem(w, problem{Status: http.StatusNotFound, Type: "no-such-webhook", Field: "name",
			Detail: fmt.Sprintf("no subscriber %q; GET /v1/webhooks lists them", name)})
		return false
	}
	if err != nil {
		s.webhooksUnavailable(w, err)
		return false
	}
	return true
}

// mergePatch applies an RFC 7396 merge patch to spec: a member set to
// null takes the field back to its default.
func mergePatch(spec config.WebhookSpec, patch map[string]json.RawMessage) (config.WebhookSpec, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return spec, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return spec, err
	}
	for k, v := range patch {
		if string(v) == "null" {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	raw, _ = json.Marshal(doc)
	var out config.WebhookSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(&out)
	return out, err
}

func answerJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	writeJSON(w, v)
}
