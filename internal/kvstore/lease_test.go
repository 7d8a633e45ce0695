package kvstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/testenv"
)

// TestLeaseHasOneHolder runs the same job under one lease in three
// "processes": one at a time does it; a holder that stops hands over at
// once, and one that is cut off (its connection closed, so it can
// neither renew nor give up) stops its job and is replaced after the TTL.
func TestLeaseHasOneHolder(t *testing.T) {
	srv, _ := testenv.NATS(t)
	const ttl = 900 * time.Millisecond
	var running atomic.Int32
	var mu sync.Mutex
	var holders []string
	type proc struct {
		nc     *nats.Conn
		cancel context.CancelFunc
		done   chan error
	}
	procs := map[string]*proc{}
	for _, name := range []string{"a", "b", "c"} {
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		l, err := kvstore.OpenLeases(context.Background(), js, "leases", 1, ttl, func(msg string, args ...any) { t.Log(append([]any{msg}, args...)...) })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		p := &proc{nc: nc, cancel: cancel, done: make(chan error, 1)}
		procs[name] = p
		go func() {
			p.done <- l.Hold(ctx, "job", name, func(ctx context.Context) error {
				if n := running.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				mu.Lock()
				holders = append(holders, name)
				mu.Unlock()
				<-ctx.Done()
				running.Add(-1)
				return nil
			})
		}()
		t.Cleanup(func() { cancel(); <-p.done })
	}
	current := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(holders) == 0 || running.Load() != 1 {
			return ""
		}
		return holders[len(holders)-1]
	}
	testenv.WaitFor(t, "a first holder", 5*time.Second, func() bool { return current() != "" })
	first := current()

	// Stopped: the lease is given up and taken within TTL/3, not TTL.
	stopped := time.Now()
	procs[first].cancel()
	if err := <-procs[first].done; err != nil {
		t.Fatal(err)
	}
	procs[first].done <- nil // for the cleanup
	testenv.WaitFor(t, "a second holder", 5*time.Second, func() bool { c := current(); return c != "" && c != first })
	if took := time.Since(stopped); took > ttl {
		t.Errorf("a given-up lease was taken after %v, more than its TTL", took)
	}
	second := current()

	// Cut off: its job stops, and the last process takes over once the
	// lease has expired.
	cut := time.Now()
	procs[second].nc.Close()
	testenv.WaitFor(t, "the third holder", 10*time.Second, func() bool {
		c := current()
		return c != "" && c != first && c != second
	})
	if took := time.Since(cut); took < ttl/2 {
		t.Errorf("a lost holder's lease was taken after %v, before it could have expired", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(holders) != 3 {
		t.Errorf("holders in turn %v, want each once", holders)
	}
}
