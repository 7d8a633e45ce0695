package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/oklog/ulid/v2"

	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/pkg/client"
)

// target is which article and version a submission becomes.
type target struct {
	id      string
	version uint32
	// repeat: this exact content was accepted already; answer 200 and
	// send nothing.
	repeat bool
}

// resolve decides what a submission is: a new article, a repeat of one
// already accepted, or (with the newsroom's external id and new content)
// the next version of one. The key's entry is written before the article
// is accepted and holds its id, so a request that died in between is
// completed by its retry under the same id; every write after that is
// keyed by id and version, and every event by message id, so doing it
// twice changes nothing.
//
// A submission the newsroom must change is a *refusal.
func (s *Service) resolve(ctx context.Context, kind, key, newsroom string, a *submission) (target, error) {
	if key == "" {
		return target{id: ulid.Make().String(), version: 1}, nil
	}
	if len(key) > 256 {
		return target{}, &refusal{Type: "key-too-long", Field: headerFor(kind), Limit: 256,
			Detail: "the key is longer than 256 characters"}
	}
	sum := contentSHA(a)
	for attempt := range 20 {
		e, rev, found, err := s.cfg.Refs.Get(ctx, kind, newsroom, key)
		if err != nil {
			return target{}, err
		}
		switch {
		case !found:
			e = refs.Entry{ArticleID: ulid.Make().String(), Version: 1, ContentSHA256: sum}
		case e.ContentSHA256 == sum:
			done, err := s.accepted(ctx, e.ArticleID, e.Version)
			if err != nil {
				return target{}, err
			}
			return target{id: e.ArticleID, version: e.Version, repeat: done}, nil
		case kind == refs.Idempotency:
			return target{}, &refusal{Type: "idempotency-key-reused", Field: client.HeaderIdempotencyKey,
				Detail: fmt.Sprintf("this Idempotency-Key was used for different content (article %s); use a new key, or External-Id to send a correction", e.ArticleID)}
		default: // a correction
			st, err := s.cfg.Status.Get(ctx, e.ArticleID)
			if err == nil && st.GetState() == status.Withdrawn {
				return target{}, withdrawnRefusal(e.ArticleID)
			}
			v, err := s.cfg.Refs.NextVersion(ctx, e.ArticleID, e.Version, false)
			if errors.Is(err, refs.ErrWithdrawn) {
				return target{}, withdrawnRefusal(e.ArticleID)
			}
			if err != nil {
				return target{}, err
			}
			e = refs.Entry{ArticleID: e.ArticleID, Version: v, ContentSHA256: sum}
		}
		if err := s.cfg.Refs.Put(ctx, kind, newsroom, key, e, rev); errors.Is(err, refs.ErrConflict) {
			if err := kvstore.Backoff(ctx, attempt); err != nil {
				return target{}, err
			}
			continue // another request wrote first: read what it decided
		} else if err != nil {
			return target{}, err
		}
		return target{id: e.ArticleID, version: e.Version}, nil
	}
	return target{}, errors.New("ingest: too many concurrent writes to one key")
}

func withdrawnRefusal(id string) *refusal {
	return &refusal{Type: "article-withdrawn", Field: client.HeaderExternalID,
		Detail: fmt.Sprintf("article %s was withdrawn; a correction would publish it again: send it as a new article with a new External-Id", id)}
}

// refusal is why resolve will not take a submission: the newsroom must
// change it. The API answers it as a problem; the feed poller logs it and
// goes on with the next item.
type refusal struct {
	Type, Field, Detail string
	Limit               int64
}

func (r *refusal) Error() string { return r.Detail }

// problem is the refusal as the API answers it.
func (r *refusal) problem() problem {
	status := map[string]int{
		"key-too-long":           http.StatusBadRequest,
		"idempotency-key-reused": http.StatusUnprocessableEntity,
		"article-withdrawn":      http.StatusConflict,
	}[r.Type]
	return problem{Status: status, Type: r.Type, Field: r.Field, Limit: r.Limit, Detail: r.Detail}
}

// accepted reports whether version of article id went out: its status
// shows that version or a later one.
func (s *Service) accepted(ctx context.Context, id string, version uint32) (bool, error) {
	st, err := s.cfg.Status.Get(ctx, id)
	if errors.Is(err, status.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return st.GetArticle().GetVersion() >= version, nil
}

func contentSHA(a *submission) string {
	h := sha256.New()
	h.Write([]byte(a.contentType + "\x00"))
	h.Write(a.body)
	for _, f := range a.files {
		h.Write([]byte("\x00" + f.name + "\x00"))
		_, _ = io.Copy(h, f.content()) // a spooled file that cannot be read back fails its upload next
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keyOf reads the key a request carries: the External-Id, else the
// Idempotency-Key, else none.
func keyOf(r *http.Request) (kind, key string) {
	if key := r.Header.Get(client.HeaderExternalID); key != "" {
		return refs.External, key
	}
	return refs.Idempotency, r.Header.Get(client.HeaderIdempotencyKey)
}

func headerFor(kind string) string {
	if kind == refs.External {
		return client.HeaderExternalID
	}
	return client.HeaderIdempotencyKey
}
