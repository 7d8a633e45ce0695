// Package status keeps each article's progress through the pipeline in a
// JetStream key-value bucket: the state it reached, every step with its
// time, warnings and failure reasons. Stages write it; ingest's status API
// and `pressline status` read it.
package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/tracing"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Bucket is the key-value bucket's name.
const Bucket = "pressline_status"

// States an article moves through, in order, and the one it may fall
// into. They are what the ingest API reports, so pkg/client spells them.
const (
	Received   = client.Received
	Cleaned    = client.Cleaned
	MediaReady = client.MediaReady
	Embargoed  = client.Embargoed // held by publish until its embargo time
	Published  = client.Published
	Withdrawn  = client.Withdrawn
	Failed     = client.Failed
)

var rank = map[string]int{Received: 1, Cleaned: 2, MediaReady: 3, Embargoed: 4, Published: 5, Withdrawn: 6}

// ErrNotFound means no article has that id.
var ErrNotFound = errors.New("no such article")

// Store reads and writes status records.
type Store struct {
	kv  *kvstore.Bucket
	now func() time.Time
}

// Open creates the bucket if needed and returns a store on it.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Pressline article status, by article id.",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &Store{kv: kv, now: time.Now}, nil
}

// Get returns the status of article id.
func (s *Store) Get(ctx context.Context, id string) (*pb.ArticleStatus, error) {
	st, _, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("status %s: %w", id, ErrNotFound)
	}
	return st, nil
}

func (s *Store) get(ctx context.Context, id string) (*pb.ArticleStatus, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("status %s: %w", id, err)
	}
	st := &pb.ArticleStatus{}
	if err := proto.Unmarshal(e.Value(), st); err != nil {
		return nil, 0, fmt.Errorf("status %s: %w", id, err)
	}
	return st, e.Revision(), nil
}

// Filter selects articles for Index.List.
type Filter struct {
	Newsroom string    // required: a newsroom sees its own articles
	State    string    // empty for any
	Since    time.Time // received at or after; zero for any
	Before   string    // page token: ids before this one (ids sort by time)
	Limit    int
	// Title keeps articles whose title holds it, in any case; Warning
	// those with a warning of that code; Site those for that site.
	Title, Warning, Site string
}

// Step describes what a stage did with one version of an article.
type Step struct {
	Stage    string // ingest, clean, imageproc, publish
	State    string // one of the states above
	Detail   string
	Warnings []*pb.Warning
	URLs     []string
	// TraceID is the version's trace; Record takes it from ctx when empty.
	TraceID string
	// Title (clean's) and ExternalID (ingest's) are kept when given.
	Title, ExternalID string
}

// Record appends step to the article's history and moves its state on.
// Redelivered or late messages never move an article back: a step for an
// older version, or for an earlier state of the same version, is kept in
// the history only. Concurrent writers are serialised by the bucket's
// revision check.
func (s *Store) Record(ctx context.Context, ref *pb.ArticleRef, step Step) error {
	_, _, err := s.record(ctx, ref, step, nil, 0, false)
	return err
}

// RecordKept is Record, returning the record as written and its
// revision: what the stage's event carries so that the next stage can
// write with RecordOn.
func (s *Store) RecordKept(ctx context.Context, ref *pb.ArticleRef, step Step) (*pb.ArticleStatus, uint64, error) {
	return s.record(ctx, ref, step, nil, 0, false)
}

// RecordNew is Record for an article that most likely has no record yet
// (its first version, just accepted): the record is created with no read
// before it, and only if one exists after all is it read and updated.
func (s *Store) RecordNew(ctx context.Context, ref *pb.ArticleRef, step Step) error {
	_, _, err := s.record(ctx, ref, step, nil, 0, true)
	return err
}

// RecordOn is Record for a stage that has just read the record (st, at
// revision rev, from GetRevision): the first write is checked against
// that revision with no read before it, and only if someone wrote in
// between is the record read again. st is not changed.
func (s *Store) RecordOn(ctx context.Context, st *pb.ArticleStatus, rev uint64, ref *pb.ArticleRef, step Step) error {
	if st == nil || rev == 0 {
		_, _, err := s.record(ctx, ref, step, nil, 0, false)
		return err
	}
	_, _, err := s.record(ctx, ref, step, proto.Clone(st).(*pb.ArticleStatus), rev, false)
	return err
}

// GetRevision returns the status of article id and its revision, for
// RecordOn.
func (s *Store) GetRevision(ctx context.Context, id string) (*pb.ArticleStatus, uint64, error) {
	st, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if st == nil {
		return nil, 0, fmt.Errorf("status %s: %w", id, ErrNotFound)
	}
	return st, rev, nil
}

// record writes step onto the record: known (at rev) or, when nil, the
// record as read, or a new one when fresh says it should not exist.
func (s *Store) record(ctx context.Context, ref *pb.ArticleRef, step Step, known *pb.ArticleStatus, rev uint64, fresh bool) (*pb.ArticleStatus, uint64, error) {
	if step.TraceID == "" {
		step.TraceID = tracing.TraceID(ctx)
	}
	for attempt := 0; ; attempt++ {
		st, hinted := known, known != nil || fresh
		known = nil // a conflict reads the record again
		if st == nil && !fresh {
			var err error
			if st, rev, err = s.get(ctx, ref.GetId()); err != nil {
				return nil, 0, err
			}
		}
		fresh = false
		if st == nil {
			st, rev = &pb.ArticleStatus{Article: ref}, 0
		}
		apply(st, ref, step, s.now())
		data, err := proto.Marshal(st)
		if err != nil {
			return nil, 0, fmt.Errorf("status %s: %w", ref.GetId(), err)
		}
		var written uint64
		if rev == 0 {
			written, err = s.kv.Create(ctx, ref.GetId(), data)
		} else {
			written, err = s.kv.Update(ctx, ref.GetId(), data, rev)
		}
		if err == nil {
			return st, written, nil
		}
		if attempt < 20 && kvstore.IsConflict(err) {
			// A hint that was wrong is read at once; a writer in between
			// is let finish first.
			if !hinted {
				if err := kvstore.Backoff(ctx, attempt); err != nil {
					return nil, 0, fmt.Errorf("status %s: %w", ref.GetId(), err)
				}
			}
			continue // someone wrote in between (or it existed): read again
		}
		return nil, 0, fmt.Errorf("status %s: %w", ref.GetId(), err)
	}
}

func apply(st *pb.ArticleStatus, ref *pb.ArticleRef, step Step, now time.Time) {
	at := timestamppb.New(now)
	st.History = append(st.History, &pb.StageRecord{
		Stage: step.Stage, State: step.State, Version: ref.GetVersion(), At: at, Detail: step.Detail,
	})
	st.UpdatedAt = at
	// Pages written by an older version are pages all the same: they
	// are kept before any version check can drop the step.
	st.PublishedUrls = union(st.PublishedUrls, step.URLs)
	current := st.GetArticle().GetVersion()
	switch {
	case ref.GetVersion() > current:
		// URLs stay: the page of the last published version is live
		// until a new one replaces it or a withdrawal takes it down, and
		// publish keeps an article's URL across corrections.
		st.Article = ref
		st.State, st.Warnings, st.Error, st.TraceId = "", nil, "", ""
	case ref.GetVersion() < current:
		// An older version's pages went up after a newer version was
		// asked for (a withdrawal on its way): they are live all the
		// same, and what takes the article down must find them.
		st.Urls = union(st.Urls, step.URLs)
		return
	}
	if st.TraceId == "" {
		// The first step of a version (ingest's) starts its trace.
		st.TraceId = step.TraceID
	}
	if step.Title != "" {
		st.Title = step.Title
	}
	if step.ExternalID != "" {
		st.ExternalId = step.ExternalID
	}
	if step.State == Failed {
		st.State, st.Error = Failed, step.Detail
	} else if st.State == "" || rank[step.State] > rank[st.State] {
		st.State = step.State
		st.Error = ""
	} else {
		return
	}
	if len(step.Warnings) > 0 {
		st.Warnings = capWarnings(step.Warnings)
	}
	if len(step.URLs) > 0 {
		st.Urls = step.URLs
	}
}

// PublishedURLs is every URL the article's pages were written at:
// published_urls, and urls for records from before it was kept.
func PublishedURLs(st *pb.ArticleStatus) []string {
	return union(slices.Clone(st.GetPublishedUrls()), st.GetUrls())
}

// union appends to list the urls it does not hold yet.
func union(list, urls []string) []string {
	for _, u := range urls {
		if !slices.Contains(list, u) {
			list = append(list, u)
		}
	}
	return list
}

// MaxWarnings is the most warnings a status keeps: a record is one NATS
// message (1 MiB at most), and an article of 20,000 images, each with
// its warning, made one too large to write.
const MaxWarnings = 100

// capWarnings keeps the first MaxWarnings-1 warnings and says how many
// more there were.
func capWarnings(ws []*pb.Warning) []*pb.Warning {
	if len(ws) <= MaxWarnings {
		return ws
	}
	out := slices.Clone(ws[:MaxWarnings-1])
	return append(out, &pb.Warning{Code: "warnings_truncated",
		Message: fmt.Sprintf("%d more warnings were not kept; the first %d are above", len(ws)-(MaxWarnings-1), MaxWarnings-1)})
}

// MarkFailed returns a bus give-up hook that records the article as failed
// at stage, so its status shows why it stopped.
func (s *Store) MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error) {
	return func(ctx context.Context, m *bus.Msg, err error) {
		if m.ArticleID == "" {
			return
		}
		ref := &pb.ArticleRef{Id: m.ArticleID, Version: m.Version}
		if rerr := s.Record(ctx, ref, Step{Stage: stage, State: Failed, Detail: err.Error()}); rerr != nil {
			m.Log.Error("failure not recorded in status", "err", rerr)
		}
	}
}
