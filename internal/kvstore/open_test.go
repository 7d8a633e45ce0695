package kvstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/testenv"
)

// TestManyProcessesOpenAtOnce opens one bucket from many connections at
// the same moment, as a fleet starting together does: each must get a
// bucket whose reads go to the leader, and none may fail because
// another's open turned direct get back on.
func TestManyProcessesOpenAtOnce(t *testing.T) {
	srv, _ := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range 12 {
		js := connect(t, srv)
		wg.Go(func() {
			b, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{Bucket: "fleet", Storage: jetstream.FileStorage})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
				t.Error(err)
			}
			if _, err := b.Get(ctx, "k"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
