// Package blobtest is the contract every S3 server behind Pressline must
// pass, run against MinIO and the embedded server alike.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/pressline/pressline/internal/blob"
)

// Run checks that a store behaves as the pipeline relies on. It is
// exported so that the same suite runs against MinIO and the embedded
// server (see pkg/s3embed and this package's tests): a server that passes
// it can stand behind Pressline.
func Run(t *testing.T, s *blob.Store) {
	ctx := context.Background()
	t.Run("put get stat", func(t *testing.T) {
		body := []byte("Xây dựng tổ chức Đảng\n")
		if err := s.Put(ctx, "contract/a/original", body, "text/plain; charset=utf-8"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "contract/a/original")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("get = %q, want %q", got, body)
		}
		info, err := s.Stat(ctx, "contract/a/original")
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(body)) || info.ContentType != "text/plain; charset=utf-8" {
			t.Fatalf("stat = %+v", info)
		}
	})
	t.Run("overwrite", func(t *testing.T) {
		for _, v := range []string{"one", "two"} {
			if err := s.Put(ctx, "contract/overwrite", []byte(v), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, "contract/overwrite")
		if err != nil || string(got) != "two" {
			t.Fatalf("get = %q, %v; want two", got, err)
		}
	})
	t.Run("read while rewritten", func(t *testing.T) {
		// A site's feeds are rewritten while readers fetch them: a read
		// gets one whole version, never an error.
		key := "contract/rewritten"
		if err := s.Put(ctx, key, []byte("v0"), "text/plain"); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 1; i <= 200; i++ {
				if err := s.Put(ctx, key, []byte(fmt.Sprintf("v%d", i)), "text/plain"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for reading := true; reading; {
			select {
			case <-done:
				reading = false
			default:
			}
			got, err := s.Get(ctx, key)
			if err != nil || !strings.HasPrefix(string(got), "v") {
				t.Fatalf("get during rewrites = %q, %v", got, err)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := s.Get(ctx, "contract/missing"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("get missing: %v, want ErrNotFound", err)
		}
		if _, err := s.Stat(ctx, "contract/missing"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("stat missing: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "contract/missing"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
	})
	t.Run("multipart stream", func(t *testing.T) {
		// 17 MiB of unknown length forces minio-go into a multipart upload,
		// which is what gofakes3 is known to corrupt.
		big := make([]byte, 17<<20)
		rand.Read(big)
		if err := s.PutReader(ctx, "contract/big", io.MultiReader(bytes.NewReader(big)), -1, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "contract/big")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, big) {
			t.Fatalf("multipart object corrupted: %d bytes back, want %d", len(got), len(big))
		}
	})
	t.Run("user metadata", func(t *testing.T) {
		meta := map[string]string{"Pressline-Ref": "CgRBMTIzEAEaAmRl"}
		if err := s.PutWithMetadata(ctx, "contract/meta", []byte("x"), "text/plain", meta); err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(ctx, "contract/meta")
		if err != nil {
			t.Fatal(err)
		}
		if info.Metadata["Pressline-Ref"] != meta["Pressline-Ref"] {
			t.Fatalf("metadata back = %v, want %v", info.Metadata, meta)
		}
	})
	t.Run("list after", func(t *testing.T) {
		for _, k := range []string{"contract/after/01A", "contract/after/01B", "contract/after/01C"} {
			if err := s.Put(ctx, k, []byte(k), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		var keys []string
		for info, err := range s.ListAfter(ctx, "contract/after/", "contract/after/01A") {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, info.Key)
		}
		if got := strings.Join(keys, ","); got != "contract/after/01B,contract/after/01C" {
			t.Fatalf("list after = %s", got)
		}
	})
	t.Run("list and delete", func(t *testing.T) {
		for _, k := range []string{"contract/list/b", "contract/list/a", "contract/list/sub/c", "contract/listx"} {
			if err := s.Put(ctx, k, []byte(k), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		var keys []string
		for info, err := range s.List(ctx, "contract/list/") {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, info.Key)
		}
		if got, want := strings.Join(keys, ","), "contract/list/a,contract/list/b,contract/list/sub/c"; got != want {
			t.Fatalf("list = %s, want %s", got, want)
		}
		if err := s.Delete(ctx, "contract/list/a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "contract/list/a"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("stat after delete: %v", err)
		}
	})
}
