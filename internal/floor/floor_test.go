package floor

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/testenv"
)

// counting counts the floor's S3 round trips.
type counting struct {
	Store
	puts, gets atomic.Int64
}

func (c *counting) Put(ctx context.Context, key string, data []byte, ct string) error {
	c.puts.Add(1)
	return c.Store.Put(ctx, key, data, ct)
}

func (c *counting) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// TestRunMakesTheNaiveRoundTrips runs the floor on real NATS and MinIO
// and counts what it did per article: 4 writes, 3 reads.
func TestRunMakesTheNaiveRoundTrips(t *testing.T) {
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := blob.New(context.Background(), testenv.MinIO(t))
	if err != nil {
		t.Fatal(err)
	}
	store := &counting{Store: s3}
	const n = 30
	var progressed atomic.Int64
	res, err := Run(context.Background(), Config{JS: js, Store: store, Articles: n, Concurrency: 4,
		Payload: []byte(strings.Repeat("x", 6000)), Progress: func() { progressed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Articles != n || len(res.Latencies) != n || res.Latencies[0] <= 0 || res.Throughput <= 0 || progressed.Load() != n {
		t.Fatalf("result %+v, progress %d", res, progressed.Load())
	}
	if store.puts.Load() != 4*n || store.gets.Load() != 3*n {
		t.Errorf("%d writes and %d reads, want %d and %d", store.puts.Load(), store.gets.Load(), 4*n, 3*n)
	}
	// The floor cleans up after itself on the server.
	if _, err := js.Stream(context.Background(), stream); err == nil {
		t.Error("the floor's stream is left behind")
	}
}
