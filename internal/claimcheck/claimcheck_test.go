package claimcheck

import (
	"bytes"
	"context"
	"testing"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func TestPackOpen(t *testing.T) {
	ctx := context.Background()
	store, err := blob.New(ctx, testenv.MinIO(t))
	if err != nil {
		t.Fatal(err)
	}
	small, large := []byte("short"), bytes.Repeat([]byte("x"), 100)
	tests := []struct {
		name   string
		data   []byte
		inline bool
	}{{"small rides inline", small, true}, {"large goes by key", large, false}, {"empty", nil, true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Pack(ctx, store, "claims/"+tt.name, tt.data, "text/plain", 10)
			if err != nil {
				t.Fatal(err)
			}
			if _, isInline := p.Location.(*pb.Payload_Inline); isInline != tt.inline || p.Size != int64(len(tt.data)) {
				t.Fatalf("payload %v, want inline=%v", p, tt.inline)
			}
			got, err := Open(ctx, store, p)
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Fatalf("open = %q, %v", got, err)
			}
		})
	}
	_, err = Open(ctx, store, &pb.Payload{Location: &pb.Payload_BlobKey{BlobKey: "claims/gone"}})
	if !fault.IsPermanent(err) {
		t.Errorf("missing claim: %v, want permanent", err)
	}
	if _, err := Open(ctx, store, &pb.Payload{}); !fault.IsPermanent(err) {
		t.Errorf("empty payload: %v, want permanent", err)
	}
}
