package ingest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// refMetaKey is the S3 user metadata that carries an original's
// ArticleRef (without its uploads, which are listed beside it), so the
// reconciler can send the event ingest could not.
const refMetaKey = "Pressline-Ref"

// locationMetaKey carries the Content-Location the article was sent with.
const locationMetaKey = "Pressline-Location"

// reconcileWindow is how far back the reconciler looks. It matches the
// stream's duplicate window: an event that was in fact published, but
// whose status write failed, is then still dropped as a duplicate.
const reconcileWindow = 10 * time.Minute

func refMetadata(ref *pb.ArticleRef, location string) (map[string]string, error) {
	bare := proto.Clone(ref).(*pb.ArticleRef)
	bare.Uploads = nil // listed beside the original; metadata is limited to 2 KiB
	data, err := proto.Marshal(bare)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{refMetaKey: base64.StdEncoding.EncodeToString(data)}
	if location != "" {
		meta[locationMetaKey] = base64.StdEncoding.EncodeToString([]byte(location))
	}
	return meta, nil
}

func (s *Service) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Reconcile)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Reconcile(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("reconcile", "err", err, "recovered", n)
			}
		}
	}
}

// Reconcile sends the received event of every recent original that was
// stored but whose event was not (ingest stopped between the two writes),
// and returns how many it recovered. An original younger than the grace
// period may still be in a request and is left alone.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	now := s.now()
	// ULIDs sort by time: start the listing at the window's edge.
	edge := ulid.ULID{}
	if err := edge.SetTime(ulid.Timestamp(now.Add(-reconcileWindow))); err != nil {
		return 0, err
	}
	recovered := 0
	for info, err := range s.cfg.Blobs.ListAfter(ctx, layout.OriginalsPrefix, layout.OriginalsPrefix+edge.String()) {
		if err != nil {
			return recovered, err
		}
		id, version, ok := layout.ParseOriginal(info.Key)
		if !ok || now.Sub(info.LastModified) < s.cfg.ReconcileGrace {
			continue
		}
		st, err := s.cfg.Status.Get(ctx, id)
		switch {
		case err == nil && st.GetArticle().GetVersion() >= version:
			continue // its event went out
		case err != nil && !errors.Is(err, status.ErrNotFound):
			return recovered, err
		}
		if err := s.recover(ctx, info.Key, id, version); err != nil {
			return recovered, fmt.Errorf("recover %s: %w", info.Key, err)
		}
		recovered++
	}
	return recovered, nil
}

// storedRef is the ArticleRef kept with the original at key, and the
// original's object.
func (s *Service) storedRef(ctx context.Context, key string) (*pb.ArticleRef, blob.Info, error) {
	info, err := s.cfg.Blobs.Stat(ctx, key)
	if err != nil {
		return nil, info, err
	}
	raw, err := base64.StdEncoding.DecodeString(info.Metadata[refMetaKey])
	if err != nil || len(raw) == 0 {
		return nil, info, fmt.Errorf("no ArticleRef in its metadata")
	}
	ref := &pb.ArticleRef{}
	if err := proto.Unmarshal(raw, ref); err != nil {
		return nil, info, err
	}
	return ref, info, nil
}

func (s *Service) recover(ctx context.Context, key, id string, version uint32) error {
	ref, info, err := s.storedRef(ctx, key)
	if err != nil {
		return err
	}
	if ref.GetId() != id || ref.GetVersion() != version {
		return fmt.Errorf("metadata names %s v%d", ref.GetId(), ref.GetVersion())
	}
	prefix := layout.UploadsPrefix(id, version)
	for f, err := range s.cfg.Blobs.ListAfter(ctx, prefix, "") {
		if err != nil {
			return err
		}
		fi, err := s.cfg.Blobs.Stat(ctx, f.Key)
		if err != nil {
			return err
		}
		ref.Uploads = append(ref.Uploads, &pb.Upload{Name: strings.TrimPrefix(f.Key, prefix), Key: f.Key, ContentType: fi.ContentType, Size: fi.Size})
	}
	body, err := s.cfg.Blobs.Get(ctx, key)
	if err != nil {
		return err
	}
	s.log.Warn("recovered an original stored without its event", "article_id", id, "version", version)
	location, _ := base64.StdEncoding.DecodeString(info.Metadata[locationMetaKey])
	return s.emit(ctx, ref, key, body, info.ContentType, string(location), "", fmt.Sprintf("%d bytes, %s; event sent by the reconciler", len(body), info.ContentType))
}
