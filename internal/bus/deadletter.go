package bus

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// DeadLetterRecord is a stored dead letter and its id (its sequence in the
// dead-letter stream), which `pressline dlq replay` takes.
type DeadLetterRecord struct {
	ID uint64
	*pb.DeadLetter
}

// DeadLetters yields every stored dead letter, oldest first.
func (b *Bus) DeadLetters(ctx context.Context) iter.Seq2[DeadLetterRecord, error] {
	return func(yield func(DeadLetterRecord, error) bool) {
		stream, err := b.js.Stream(ctx, layout.StreamDeadLetter)
		if err != nil {
			yield(DeadLetterRecord{}, fmt.Errorf("bus: dead letters: %w", err))
			return
		}
		info, err := stream.Info(ctx)
		if err != nil {
			yield(DeadLetterRecord{}, fmt.Errorf("bus: dead letters: %w", err))
			return
		}
		if info.State.Msgs == 0 {
			return
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			rec, err := b.deadLetterAt(ctx, stream, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // replayed and removed
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

func (b *Bus) deadLetterAt(ctx context.Context, stream jetstream.Stream, seq uint64) (DeadLetterRecord, error) {
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetterRecord{}, err
	}
	dl := &pb.DeadLetter{}
	if err := proto.Unmarshal(raw.Data, dl); err != nil {
		return DeadLetterRecord{}, fmt.Errorf("bus: dead letter %d: %w", seq, err)
	}
	return DeadLetterRecord{ID: seq, DeadLetter: dl}, nil
}

// DeadLetter reads one dead letter by its id; ErrNoDeadLetter when there
// is none (never, or replayed already).
func (b *Bus) DeadLetter(ctx context.Context, id uint64) (DeadLetterRecord, error) {
	stream, err := b.js.Stream(ctx, layout.StreamDeadLetter)
	if err != nil {
		return DeadLetterRecord{}, fmt.Errorf("bus: dead letters: %w", err)
	}
	rec, err := b.deadLetterAt(ctx, stream, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetterRecord{}, fmt.Errorf("bus: dead letter %d: %w", id, ErrNoDeadLetter)
	}
	return rec, err
}

// ErrNoDeadLetter means no dead letter has the given id.
var ErrNoDeadLetter = errors.New("no such dead letter")

// ReplayDeadLetter sends a dead letter's message back to its stage, as it
// was first delivered, and removes the record once JetStream has the
// message again. If the stage fails again, a new record is made.
func (b *Bus) ReplayDeadLetter(ctx context.Context, id uint64) (*pb.DeadLetter, error) {
	rec, err := b.DeadLetter(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("bus: replay: %w", err)
	}
	msg := &nats.Msg{Subject: rec.Subject, Data: rec.Data, Header: nats.Header{}}
	for k, v := range rec.Headers {
		if k != jetstream.MsgIDHeader {
			msg.Header.Set(k, v)
		}
	}
	// A fresh id: the original's is still in the duplicate window, or the
	// message would be dropped; the record's id keeps a repeated replay
	// command from sending it twice.
	if err := b.publishMsg(ctx, msg, "replay/"+strconv.FormatUint(id, 10)); err != nil {
		return nil, err
	}
	stream, err := b.js.Stream(ctx, layout.StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("bus: dead letters: %w", err)
	}
	if err := stream.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("bus: remove replayed dead letter %d: %w", id, err)
	}
	return rec.DeadLetter, nil
}
