package refs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/testenv"
)

func TestPutAndConflicts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if _, _, found, err := s.Get(ctx, External, "quocoai", "cms-1"); found || err != nil {
		t.Fatalf("empty bucket: found %v, %v", found, err)
	}
	e := Entry{ArticleID: "A", Version: 1, ContentSHA256: "x"}
	if err := s.Put(ctx, External, "quocoai", "cms-1", e, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, External, "quocoai", "cms-1", e, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	got, rev, found, err := s.Get(ctx, External, "quocoai", "cms-1")
	if err != nil || !found || got != e {
		t.Fatalf("get = %+v %v %v", got, found, err)
	}
	if err := s.Put(ctx, External, "quocoai", "cms-1", Entry{ArticleID: "A", Version: 2}, rev); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, External, "quocoai", "cms-1", Entry{ArticleID: "A", Version: 3}, rev); !errors.Is(err, ErrConflict) {
		t.Errorf("update with a stale revision: %v, want ErrConflict", err)
	}
	// Keys are per newsroom and per kind.
	for _, k := range [][2]string{{"vnx", "cms-1"}, {"quocoai", "cms-2"}} {
		if _, _, found, _ := s.Get(ctx, External, k[0], k[1]); found {
			t.Errorf("%v found", k)
		}
	}
	if _, _, found, _ := s.Get(ctx, Idempotency, "quocoai", "cms-1"); found {
		t.Error("an External-Id entry answered for an Idempotency-Key")
	}
}

// TestNextVersion: versions given out at the same moment are all
// different; a withdrawal is the last; a second withdrawal is the same
// one, and a correction after it is refused.
// TestNextVersion asks for versions of one article from many requests
// at once, on one server and on a three-node cluster with the requests
// spread over the nodes.
func TestNextVersion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stores func(t *testing.T) []*Store
	}{
		{"one server", func(t *testing.T) []*Store { return []*Store{openStore(t)} }},
		{"R3 cluster", openCluster},
	} {
		t.Run(tc.name, func(t *testing.T) { testNextVersion(t, tc.stores(t)) })
	}
}

func testNextVersion(t *testing.T, stores []*Store) {
	ctx := context.Background()
	s := stores[0]
	// Twenty corrections at once of an article at version 1.
	got := make([]uint32, 20)
	var wg sync.WaitGroup
	for i := range got {
		s := stores[i%len(stores)]
		wg.Go(func() {
			v, err := s.NextVersion(ctx, "01ART", 1, false)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	slices.Sort(got)
	for i, v := range got {
		if v != uint32(i+2) {
			t.Fatalf("versions given out %v, want 2 to 21, each once", got)
		}
	}
	w, err := s.NextVersion(ctx, "01ART", 1, true)
	if err != nil || w != 22 {
		t.Fatalf("withdrawal got %d, %v; want 22", w, err)
	}
	if again, err := s.NextVersion(ctx, "01ART", 1, true); err != nil || again != w {
		t.Errorf("second withdrawal got %d, %v; want the same %d", again, err, w)
	}
	if _, err := s.NextVersion(ctx, "01ART", 1, false); !errors.Is(err, ErrWithdrawn) {
		t.Errorf("correction after a withdrawal: %v, want ErrWithdrawn", err)
	}
	// An article from before versions were kept here starts from what
	// the caller knows.
	if v, err := s.NextVersion(ctx, "01OLD", 7, false); err != nil || v != 8 {
		t.Errorf("old article: %d, %v; want 8", v, err)
	}
}

// openStore opens the bucket on a fresh NATS server.
func openStore(t *testing.T) *Store {
	t.Helper()
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openCluster opens the bucket, replicated three times, on each node of a
// fresh three-node cluster.
func openCluster(t *testing.T) []*Store {
	t.Helper()
	var stores []*Store
	for _, n := range testenv.NATSCluster(t, 3).Nodes() {
		js := testenv.JetStream(t, n.ClientURL())
		s, err := Open(context.Background(), js, 3)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	return stores
}
