package status_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/testenv"
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

func TestConcurrentWritersLoseNothing(t *testing.T) {
	s := open(t)
	ref := &pb.ArticleRef{Id: "C", Version: 1}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Record(context.Background(), ref, status.Step{Stage: "clean", State: status.Cleaned}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, err := s.Get(context.Background(), "C")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 8 {
		t.Fatalf("history has %d steps after 8 concurrent writes", len(st.History))
	}
}

func TestUnknown(t *testing.T) {
	if _, err := open(t).Get(context.Background(), "nope"); !errors.Is(err, status.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}
