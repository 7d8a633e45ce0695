package webhooks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/webhook"
)

func newStore(t *testing.T) *Store {
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

// TestSeedKeepsWhatTheAPIChanged: the file's subscribers are added once;
// at the next start, one an operator changed keeps the change, and one
// deleted through the API comes back only because the file still lists
// it (the file is the seed, the bucket the truth).
func TestSeedKeepsWhatTheAPIChanged(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	file := []config.Webhook{{Name: "partner", URL: "https://p.example/h", Secret: secret, Deadline: time.Hour, MinBackoff: time.Second, MaxBackoff: time.Minute}}
	if err := s.Seed(ctx, file); err != nil {
		t.Fatal(err)
	}
	spec, rev, err := s.Get(ctx, "partner")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := spec.Webhook(); err != nil || w.URL != file[0].URL || w.Deadline != time.Hour || string(w.Secret) != string(secret) {
		t.Fatalf("seeded %+v (%v)", w, err)
	}
	spec.URL = "https://moved.example/h"
	if err := s.Update(ctx, spec, rev); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, spec, rev); !errors.Is(err, ErrConflict) {
		t.Errorf("a write over a stale revision: %v, want ErrConflict", err)
	}
	if err := s.Seed(ctx, file); err != nil {
		t.Fatal(err)
	}
	if spec, _, _ := s.Get(ctx, "partner"); spec.URL != "https://moved.example/h" {
		t.Errorf("a second seeding undid the API's change: %s", spec.URL)
	}
	if err := s.Create(ctx, spec); !errors.Is(err, ErrExists) {
		t.Errorf("creating a taken name: %v, want ErrExists", err)
	}
}

// TestWatchSeesEveryChange: what is there at the start, then each
// change, deletions as nil.
func TestWatchSeesEveryChange(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Create(ctx, config.WebhookSpec{Name: "a", URL: "https://a.example"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(name string, spec *config.WebhookSpec) {
			mu.Lock()
			defer mu.Unlock()
			if spec == nil {
				seen = append(seen, "-"+name)
			} else {
				seen = append(seen, "+"+name)
			}
		})
	}()
	testenv.WaitFor(t, "what was there at the start", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 })
	if err := s.Create(ctx, config.WebhookSpec{Name: "b", URL: "https://b.example"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	testenv.WaitFor(t, "three changes", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := seen[0] + seen[1] + seen[2]; got != "+a+b-a" {
		t.Errorf("saw %s, want +a+b-a", got)
	}
	list, err := s.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Name != "b" {
		t.Errorf("list %+v %v", list, err)
	}
}
