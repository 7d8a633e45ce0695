package refs

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/pkg/testenv"
)

func TestPutAndConflicts(t *testing.T) {
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
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
