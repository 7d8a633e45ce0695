// Package claimcheck decides how content travels between stages: inside the
// event when it is small, or stored in S3 with only its key in the event
// when it is not. S3 round trips are what bound the pipeline's throughput,
// so most articles never make one between stages.
package claimcheck

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/fault"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Store is the part of the blob store a claim check needs.
type Store interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Pack returns data as a payload: inline when it fits in limit bytes,
// otherwise stored under key.
func Pack(ctx context.Context, s Store, key string, data []byte, contentType string, limit int) (*pb.Payload, error) {
	if len(data) > limit {
		if err := s.Put(ctx, key, data, contentType); err != nil {
			return nil, err
		}
	}
	return Stored(key, data, contentType, limit), nil
}

// Stored returns data, already stored under key, as a payload: inline
// when it fits in limit bytes, otherwise by its key, which needs no
// second copy.
func Stored(key string, data []byte, contentType string, limit int) *pb.Payload {
	p := &pb.Payload{Size: int64(len(data)), ContentType: contentType}
	if len(data) <= limit {
		p.Location = &pb.Payload_Inline{Inline: data}
	} else {
		p.Location = &pb.Payload_BlobKey{BlobKey: key}
	}
	return p
}

// Open returns a payload's content, reading it from S3 when it went there.
// A claim check whose object is gone is permanent: it was written before
// the event that names it, so it will not appear later.
func Open(ctx context.Context, s Store, p *pb.Payload) ([]byte, error) {
	switch loc := p.GetLocation().(type) {
	case *pb.Payload_Inline:
		return loc.Inline, nil
	case *pb.Payload_BlobKey:
		data, err := s.Get(ctx, loc.BlobKey)
		if errors.Is(err, blob.ErrNotFound) {
			return nil, fault.Permanent(err)
		}
		return data, err
	default:
		return nil, fault.Permanent(fmt.Errorf("claimcheck: payload has no content"))
	}
}

// OpenMessage opens a payload that holds a serialized protobuf message
// and decodes it into m. Content that does not decode is permanent: the
// same bytes will not decode on a retry.
func OpenMessage(ctx context.Context, s Store, p *pb.Payload, m proto.Message) error {
	data, err := Open(ctx, s, p)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fault.Permanent(fmt.Errorf("claimcheck: decode %T: %w", m, err))
	}
	return nil
}
