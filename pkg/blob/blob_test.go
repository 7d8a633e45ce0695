package blob_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/blob/blobtest"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/testenv"
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
