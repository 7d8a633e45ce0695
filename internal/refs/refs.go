// Package refs remembers which article a newsroom's own key names: the
// Idempotency-Key of a request, or the newsroom's external id for an
// article. It lives in a JetStream key-value bucket, updated with
// revision checks so concurrent requests agree on one article.
package refs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pressline/pressline/internal/kvstore"
)

// Bucket is the key-value bucket's name.
const Bucket = "pressline_refs"

// Kinds of key.
const (
	Idempotency = "idem"
	External    = "ext"
)

// Entry is what a key names.
type Entry struct {
	ArticleID string `json:"article_id"`
	Version   uint32 `json:"version"`
	// ContentSHA256 of the submission (article and files) of Version.
	ContentSHA256 string `json:"content_sha256"`
}

// ErrConflict means another request changed the entry first; read again.
var ErrConflict = errors.New("refs: entry changed concurrently")

// Store reads and writes entries.
type Store struct{ kv *kvstore.Bucket }

// Open creates the bucket if needed.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Newsroom keys (Idempotency-Key, External-Id) to Pressline articles.",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("refs: %w", err)
	}
	return &Store{kv: kv}, nil
}

// kvKey hashes the newsroom's key: any string is allowed there, while
// bucket keys are limited to a few characters.
func kvKey(kind, newsroom, key string) string {
	sum := sha256.Sum256([]byte(newsroom + "\x00" + key))
	return kind + "." + hex.EncodeToString(sum[:16])
}

// Get returns the entry and its revision; found is false when there is
// none.
func (s *Store) Get(ctx context.Context, kind, newsroom, key string) (e Entry, rev uint64, found bool, err error) {
	v, err := s.kv.Get(ctx, kvKey(kind, newsroom, key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, 0, false, nil
	}
	if err != nil {
		return Entry{}, 0, false, fmt.Errorf("refs: %w", err)
	}
	if err := json.Unmarshal(v.Value(), &e); err != nil {
		return Entry{}, 0, false, fmt.Errorf("refs: %w", err)
	}
	return e, v.Revision(), true, nil
}

// Put writes e: as a new entry when rev is 0, else over revision rev.
// ErrConflict means someone else wrote first.
func (s *Store) Put(ctx context.Context, kind, newsroom, key string, e Entry, rev uint64) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.write(ctx, kvKey(kind, newsroom, key), data, rev)
}

// write stores data at key: created when rev is 0, else over revision
// rev; ErrConflict when another writer came first.
func (s *Store) write(ctx context.Context, key string, data []byte, rev uint64) error {
	var err error
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, data)
	} else {
		_, err = s.kv.Update(ctx, key, data, rev)
	}
	if kvstore.IsConflict(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	return nil
}

// ErrWithdrawn means the article's last version is a withdrawal: no
// correction may follow it.
var ErrWithdrawn = errors.New("refs: the article was withdrawn")

// versions is an article's last assigned version, and whether it was a
// withdrawal.
type versions struct {
	Last      uint32 `json:"last"`
	Withdrawn bool   `json:"withdrawn,omitempty"`
}

// NextVersion assigns an article's next version. It is the one place
// versions after the first are given out, so a correction and a
// withdrawal sent at the same moment never share one, and a correction
// that comes after a withdrawal is refused (ErrWithdrawn) rather than
// published over it. known is the version the caller has seen (from the
// key's entry or the status), for articles from before versions were
// kept here. A withdrawal of an article whose last version is a
// withdrawal gets that version again: it is the same withdrawal.
func (s *Store) NextVersion(ctx context.Context, articleID string, known uint32, withdrawal bool) (uint32, error) {
	key := "ver." + articleID
	for attempt := range 20 {
		cur := versions{Last: known}
		var rev uint64
		v, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("refs: %w", err)
		default:
			if err := json.Unmarshal(v.Value(), &cur); err != nil {
				return 0, fmt.Errorf("refs: %w", err)
			}
			rev = v.Revision()
		}
		if cur.Withdrawn {
			if withdrawal {
				return cur.Last, nil
			}
			return 0, ErrWithdrawn
		}
		next := versions{Last: max(cur.Last, known) + 1, Withdrawn: withdrawal}
		data, err := json.Marshal(next)
		if err != nil {
			return 0, err
		}
		switch err := s.write(ctx, key, data, rev); {
		case errors.Is(err, ErrConflict):
			if err := kvstore.Backoff(ctx, attempt); err != nil {
				return 0, fmt.Errorf("refs: %w", err)
			}
			continue // another request took a version first: read again
		case err != nil:
			return 0, err
		}
		return next.Last, nil
	}
	return 0, errors.New("refs: too many concurrent versions of one article")
}
