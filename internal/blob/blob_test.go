package blob_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/blob/blobtest"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/testenv"
)

func TestMinIOContract(t *testing.T) {
	cfg := testenv.MinIO(t)
	reg := prometheus.NewPedanticRegistry()
	cfg.Metrics = blob.NewMetrics(reg)
	store, err := blob.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, store)

	if n := testutil.CollectAndCount(reg, "pressline_s3_operation_duration_seconds"); n < 4 {
		t.Errorf("operation histogram has %d series, want one per operation and outcome used", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	_, err := blob.New(context.Background(), blob.Config{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b", Bucket: "x"})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if _, ok := fault.RetryAfter(err); !ok || errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("an unreachable store must be retryable, got %v", err)
	}
}

// TestDistributedMinIOLosesANode runs the contract on a four-node
// distributed MinIO, then kills a node: erasure coding keeps every object
// readable, and new ones writable, as production's distributed MinIO
// must. What a write costs meanwhile is logged, not asserted.
func TestDistributedMinIOLosesANode(t *testing.T) {
	c := testenv.StartMinIOCluster(t, 4)
	store, err := blob.New(context.Background(), c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Put(ctx, "before/loss", []byte("written by four"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, store)
	c.Nodes[2].Kill()
	if got, err := store.Get(ctx, "before/loss"); err != nil || string(got) != "written by four" {
		t.Fatalf("an object written before the loss: %q, %v", got, err)
	}
	start := time.Now()
	const n = 10
	for i := range n {
		key := fmt.Sprintf("during/loss/%d", i)
		if err := store.Put(ctx, key, []byte(key), "text/plain"); err != nil {
			t.Fatalf("write with a node down: %v", err)
		}
		if got, err := store.Get(ctx, key); err != nil || string(got) != key {
			t.Fatalf("read with a node down: %q, %v", got, err)
		}
	}
	t.Logf("with one of four nodes down: %v per write and read", time.Since(start)/n)
	c.Nodes[2].Start()
	for i := range n {
		key := fmt.Sprintf("during/loss/%d", i)
		if got, err := store.Get(ctx, key); err != nil || string(got) != key {
			t.Fatalf("read after the node came back: %q, %v", got, err)
		}
	}
}
