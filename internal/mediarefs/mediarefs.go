// Package mediarefs keeps which articles use each stored photo, so that
// a photo's renditions are removed once the last article that used it is
// withdrawn, and never while an article may still need them.
//
// imageproc takes a reference (Use) for every photo of an article before
// it reads or makes the photo's renditions; publish gives up an article's
// references when it is withdrawn (Release), removing the files of each
// photo nobody else holds. A removal runs under a lease on the photo, and
// Use, after writing its reference, looks for that lease: an article
// either takes its reference before the removal lists the references (and
// is seen, so nothing is removed), or looks after the removal has begun
// (and waits for it to end, then makes the renditions again).
package mediarefs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Buckets: the references, a key <sha256>.<article id> for each photo an
// article uses, and the leases of removals in progress.
const (
	Bucket        = "pressline_media_refs"
	RemovalBucket = "pressline_media_removals"
)

// removalTTL is how long a removal's lease outlives its holder's last
// renewal: how long a photo stays locked after a publish process died
// while removing it.
const removalTTL = 15 * time.Second

// Blobs is the storage the photos' files are in.
type Blobs interface {
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error]
	Delete(ctx context.Context, key string) error
}

// Refs reads and writes the references.
type Refs struct {
	kv       *kvstore.Bucket
	removals *kvstore.Leases
	blobs    Blobs
}

// Open creates the buckets if needed.
func Open(ctx context.Context, js jetstream.JetStream, replicas int, blobs Blobs, log func(msg string, args ...any)) (*Refs, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Which articles use each stored photo (<sha256>.<article id>).",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("mediarefs: %w", err)
	}
	removals, err := kvstore.OpenLeases(ctx, js, RemovalBucket, replicas, removalTTL, log)
	if err != nil {
		return nil, fmt.Errorf("mediarefs: %w", err)
	}
	return &Refs{kv: kv, removals: removals, blobs: blobs}, nil
}

func refKey(sum, article string) string { return sum + "." + article }

// ErrRemoving is Use's answer while the photo's files are being removed:
// try again shortly, when the removal is over and the renditions can be
// made again.
var ErrRemoving = errors.New("mediarefs: the photo's files are being removed")

// Use records that article uses the photo sum. Call it before reading or
// making the photo's renditions; until the article is released, they
// stay.
func (r *Refs) Use(ctx context.Context, sum, article string) error {
	if _, err := r.kv.Put(ctx, refKey(sum, article), nil); err != nil {
		return fmt.Errorf("mediarefs: reference %s: %w", sum, err)
	}
	held, err := r.removals.Held(ctx, sum)
	if err != nil {
		return fmt.Errorf("mediarefs: %w", err)
	}
	if held {
		return fault.Retry(fmt.Errorf("%w: %s", ErrRemoving, sum), time.Second)
	}
	return nil
}

// Release gives up article's references, and removes the files (public
// and held) of every photo it used that no other article uses. A
// reference goes last, so that a release that fails part way and is
// tried again finds what is left to do.
func (r *Refs) Release(ctx context.Context, article string) (removed []string, err error) {
	keys, err := r.keys(ctx, "*."+article)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		sum, _, _ := strings.Cut(key, ".")
		gone := false
		err := r.removals.Hold(ctx, sum, article, func(ctx context.Context) error {
			others, err := r.keys(ctx, sum+".*")
			if err != nil {
				return err
			}
			for _, k := range others {
				if k != key {
					return nil // still used
				}
			}
			gone, err = r.remove(ctx, sum)
			return err
		})
		if err == nil {
			err = ctx.Err() // Hold ends without an error when ctx does
		}
		if err != nil {
			return removed, fmt.Errorf("mediarefs: release %s: %w", sum, err)
		}
		if err := r.kv.Delete(ctx, key); err != nil {
			return removed, fmt.Errorf("mediarefs: release %s: %w", sum, err)
		}
		if gone {
			removed = append(removed, sum)
		}
	}
	return removed, nil
}

// remove deletes the photo's files, public and held, media.json first:
// its presence is what says the renditions are all there. A photo whose
// renditions were made before references were kept is left alone
// (Media.counted): an older article may use it without a reference.
func (r *Refs) remove(ctx context.Context, sum string) (bool, error) {
	dir := layout.Media(sum, "")
	for _, index := range []string{layout.MediaIndex(sum), layout.Held(layout.MediaIndex(sum))} {
		raw, err := r.blobs.Get(ctx, index)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		var m pb.Media
		if err := protojson.Unmarshal(raw, &m); err != nil || !m.GetCounted() {
			return false, nil
		}
	}
	for _, index := range []string{layout.MediaIndex(sum), layout.Held(layout.MediaIndex(sum))} {
		if err := r.blobs.Delete(ctx, index); err != nil {
			return false, err
		}
	}
	for _, prefix := range []string{dir, layout.Held(dir)} {
		for info, err := range r.blobs.List(ctx, prefix) {
			if err != nil {
				return false, err
			}
			if err := r.blobs.Delete(ctx, info.Key); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// keys lists the references matching filter; none is not an error.
func (r *Refs) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := r.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mediarefs: list %s: %w", filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}
