package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// HeldBucket keeps embargoed articles until their time. A held article is
// acknowledged on the stage's consumer, so it takes no place among the
// consumer's pending messages (which a long delay would, blocking the
// stage), and it survives restarts in the bucket.
const HeldBucket = "pressline_embargo"

type heldEntry struct {
	Until time.Time `json:"until"`
	Event []byte    `json:"event"` // the MediaReady message as delivered
}

func openHeld(ctx context.Context, js jetstream.JetStream, replicas int) (*kvstore.Bucket, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket: HeldBucket, Description: "Embargoed articles held by publish until their time.",
		Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return kv, nil
}

func heldKey(ref *pb.ArticleRef) string { return fmt.Sprintf("%s.v%d", ref.GetId(), ref.GetVersion()) }

// hold keeps an article version until its embargo ends.
func (s *Service) hold(ctx context.Context, m *bus.Msg, ref *pb.ArticleRef, until time.Time) error {
	data, err := json.Marshal(heldEntry{Until: until, Event: m.Data})
	if err != nil {
		return err
	}
	if _, err := s.held.Put(ctx, heldKey(ref), data); err != nil {
		return fmt.Errorf("publish %s: hold: %w", ref.GetId(), err)
	}
	detail := "embargoed until " + until.UTC().Format(time.RFC3339)
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Embargoed, Detail: detail}); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	m.Log.Info("held", "until", until)
	return nil
}

// releaseHeld sends held articles whose time has come back through the
// stage, where they are published like any other.
func (s *Service) releaseHeld(ctx context.Context) error {
	t := time.NewTicker(s.cfg.EmbargoTick)
	defer t.Stop()
	for {
		if err := s.releaseDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("embargo release", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) releaseDue(ctx context.Context) error {
	keys, err := s.held.ListKeys(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = keys.Stop() }()
	var errs []error
	for key := range keys.Keys() {
		if err := s.releaseOne(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) releaseOne(ctx context.Context, key string) error {
	e, err := s.held.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // released by another process
	}
	if err != nil {
		return err
	}
	var h heldEntry
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return err
	}
	if s.now().Before(h.Until) {
		return nil
	}
	var ev pb.MediaReady
	if err := proto.Unmarshal(h.Event, &ev); err != nil {
		return err
	}
	// The same message id from every process that releases it: JetStream
	// keeps one.
	if err := s.cfg.Bus.Publish(ctx, layout.MediaReadySubject(ev.GetArticle().GetId()), bus.MsgID(ev.GetArticle(), "media_ready/released"), ev.GetArticle(), &ev); err != nil {
		return err
	}
	s.log.Info("embargo over", "article_id", ev.GetArticle().GetId(), "version", ev.GetArticle().GetVersion())
	err = s.held.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	if kvstore.IsConflict(err) {
		return nil // another process released it first
	}
	return err
}
