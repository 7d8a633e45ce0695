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
type Store struct{ kv jetstream.KeyValue }

// Open creates the bucket if needed.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Newsroom keys (Idempotency-Key, External-Id) to Pressline articles.",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("refs: bucket %s: %w", Bucket, err)
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
	k := kvKey(kind, newsroom, key)
	if rev == 0 {
		_, err = s.kv.Create(ctx, k, data)
	} else {
		_, err = s.kv.Update(ctx, k, data, rev)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	return nil
}
