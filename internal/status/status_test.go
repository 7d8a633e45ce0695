package status_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func open(t *testing.T) *status.Store {
	t.Helper()
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := status.Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecord(t *testing.T) {
	v1 := &pb.ArticleRef{Id: "A", Version: 1}
	v2 := &pb.ArticleRef{Id: "A", Version: 2}
	type rec struct {
		ref  *pb.ArticleRef
		step status.Step
	}
	tests := []struct {
		name      string
		steps     []rec
		wantState string
		wantVer   uint32
		wantErr   string
	}{
		{"moves forward", []rec{{v1, status.Step{Stage: "ingest", State: status.Received}}, {v1, status.Step{Stage: "clean", State: status.Cleaned}}}, status.Cleaned, 1, ""},
		{"late redelivery does not move back", []rec{{v1, status.Step{Stage: "publish", State: status.Published}}, {v1, status.Step{Stage: "clean", State: status.Cleaned}}}, status.Published, 1, ""},
		{"failure is kept", []rec{{v1, status.Step{Stage: "ingest", State: status.Received}}, {v1, status.Step{Stage: "clean", State: status.Failed, Detail: "no text"}}}, status.Failed, 1, "no text"},
		{"new version starts over", []rec{{v1, status.Step{Stage: "publish", State: status.Published}}, {v2, status.Step{Stage: "ingest", State: status.Received}}}, status.Received, 2, ""},
		{"old version ignored", []rec{{v2, status.Step{Stage: "ingest", State: status.Received}}, {v1, status.Step{Stage: "publish", State: status.Published}}}, status.Received, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			for _, r := range tt.steps {
				if err := s.Record(context.Background(), r.ref, r.step); err != nil {
					t.Fatal(err)
				}
			}
			st, err := s.Get(context.Background(), "A")
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.wantState || st.Article.GetVersion() != tt.wantVer || st.Error != tt.wantErr {
				t.Errorf("state %q v%d error %q; want %q v%d %q", st.State, st.Article.GetVersion(), st.Error, tt.wantState, tt.wantVer, tt.wantErr)
			}
			if len(st.History) != len(tt.steps) {
				t.Errorf("history has %d steps, want %d", len(st.History), len(tt.steps))
			}
		})
	}
}

// TestConcurrentWritersLoseNothing writes one article's status from
// several writers at once, on one server and on a three-node cluster
// with each writer on its own node (a replicated bucket reports a
// conflict with another error code).
func TestConcurrentWritersLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stores  func(t *testing.T) []*status.Store
		writers int
	}{
		{"one server", func(t *testing.T) []*status.Store { return []*status.Store{open(t)} }, 8},
		{"R3 cluster", openCluster, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores := tc.stores(t)
			ref := &pb.ArticleRef{Id: "C", Version: 1}
			var wg sync.WaitGroup
			for i := range tc.writers {
				s := stores[i%len(stores)]
				wg.Go(func() {
					if err := s.Record(context.Background(), ref, status.Step{Stage: "clean", State: status.Cleaned}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			st, err := stores[0].Get(context.Background(), "C")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.History) != tc.writers {
				t.Fatalf("history has %d steps after %d concurrent writes", len(st.History), tc.writers)
			}
		})
	}
}

// openCluster opens the bucket, replicated three times, on each node of a
// fresh three-node cluster.
func openCluster(t *testing.T) []*status.Store {
	t.Helper()
	var stores []*status.Store
	for _, n := range testenv.NATSCluster(t, 3).Nodes() {
		js := testenv.JetStream(t, n.ClientURL())
		s, err := status.Open(context.Background(), js, 3)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	return stores
}

func TestUnknown(t *testing.T) {
	if _, err := open(t).Get(context.Background(), "nope"); !errors.Is(err, status.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

// An article with thousands of warnings (one per image of a huge
// gallery) still has its status written: the warnings are capped, and
// the last one says how many more there were.
func TestWarningsCapped(t *testing.T) {
	s := open(t)
	ref := &pb.ArticleRef{Id: "A", Version: 1}
	var ws []*pb.Warning
	for i := range 20000 {
		ws = append(ws, &pb.Warning{Code: "image_unreachable", Message: fmt.Sprintf("the image %q could not be fetched from https://images.example/gallery/%d.jpg: HTTP 404; it was left out", fmt.Sprint("ảnh ", i), i)})
	}
	if err := s.Record(context.Background(), ref, status.Step{Stage: "imageproc", State: status.MediaReady, Warnings: ws}); err != nil {
		t.Fatalf("the status was not written: %v", err)
	}
	st, err := s.Get(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	last := st.Warnings[len(st.Warnings)-1]
	if len(st.Warnings) != status.MaxWarnings || last.Code != "warnings_truncated" || !strings.Contains(last.Message, "19901 more") {
		t.Errorf("%d warnings, last %+v", len(st.Warnings), last)
	}
}

// TestRecordWithoutARead: RecordNew and RecordOn skip the read before
// the write, and fall back to it when the hint was wrong, losing no step.
func TestRecordWithoutARead(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	ref := &pb.ArticleRef{Id: "NEW", Version: 1, Newsroom: "a"}
	if err := s.RecordNew(ctx, ref, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	// A record that exists already (a later stage wrote first): kept.
	if err := s.RecordNew(ctx, ref, status.Step{Stage: "ingest", State: status.Received, Detail: "again"}); err != nil {
		t.Fatal(err)
	}
	st, rev, err := s.GetRevision(ctx, "NEW")
	if err != nil || len(st.GetHistory()) != 2 {
		t.Fatalf("after two RecordNew: %v, %v", st.GetHistory(), err)
	}
	// RecordOn at the revision read: one write.
	before := proto.Clone(st)
	if err := s.RecordOn(ctx, st, rev, ref, status.Step{Stage: "clean", State: status.Cleaned}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(st, before) {
		t.Error("RecordOn changed the record it was given")
	}
	// RecordOn at a revision someone wrote over: read again, both kept.
	if err := s.Record(ctx, ref, status.Step{Stage: "imageproc", State: status.MediaReady}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOn(ctx, st, rev, ref, status.Step{Stage: "publish", State: status.Published}); err != nil {
		t.Fatal(err)
	}
	// RecordKept gives the record as written and its revision, which
	// RecordOn writes on.
	kept, keptRev, err := s.RecordKept(ctx, ref, status.Step{Stage: "publish", State: status.Published, Detail: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if now, rev, err := s.GetRevision(ctx, "NEW"); err != nil || rev != keptRev || !proto.Equal(now, kept) {
		t.Errorf("RecordKept gave revision %d, the bucket has %d (%v)", keptRev, rev, err)
	}
	got, err := s.Get(ctx, "NEW")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, h := range got.GetHistory() {
		stages = append(stages, h.GetStage())
	}
	if fmt.Sprint(stages) != "[ingest ingest clean imageproc publish publish]" || got.GetState() != status.Published {
		t.Errorf("history %v, state %s", stages, got.GetState())
	}
}
