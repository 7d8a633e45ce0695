package s3embed

import (
	"context"
	"errors"
	"testing"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/blob/blobtest"
)

func TestContract(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := Start(ctx, Config{Dir: dir + "/s3", MetaDir: dir + "/meta", AccessKey: "test", SecretKey: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	if _, err := Start(ctx, Config{Dir: dir + "/s3b", MetaDir: dir + "/metab", AccessKey: "a", SecretKey: "b"}); err == nil {
		t.Fatal("a second server in one process must be refused")
	}

	store, err := blob.New(ctx, blob.Config{Endpoint: srv.Endpoint, AccessKey: "test", SecretKey: "test-secret", Bucket: "pressline"})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, store)

	t.Run("bad signature refused", func(t *testing.T) {
		bad, err := blob.New(ctx, blob.Config{Endpoint: srv.Endpoint, AccessKey: "test", SecretKey: "wrong", Bucket: "pressline"})
		if err == nil {
			err = bad.Put(ctx, "contract/forged", []byte("x"), "text/plain")
		}
		if err == nil {
			t.Fatal("a request signed with the wrong secret was accepted")
		}
		if errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("wrong error class: %v", err)
		}
	})
}

func TestBadDirsRefused(t *testing.T) {
	for _, cfg := range []Config{
		{Dir: "data/s3", MetaDir: "/tmp/m"},
		{Dir: "/tmp/x/s3", MetaDir: "/tmp/x/s3meta"},
	} {
		cfg.AccessKey, cfg.SecretKey = "a", "b"
		if _, err := Start(context.Background(), cfg); err == nil {
			t.Errorf("Start(%+v) accepted", cfg)
		}
	}
}
