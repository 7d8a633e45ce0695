package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/natsembed"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// BenchmarkPublish measures a durable publish (waiting for the PubAck) of
// a sample-sized event to the file-backed article stream, with the server
// fsyncing every write (SyncAlways, the default) and without.
func BenchmarkPublish(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync_always=%v", sync), func(b *testing.B) {
			srv, err := natsembed.Start(natsembed.Config{Dir: b.TempDir(), Port: -1, SyncAlways: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			bs, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 6064) // the sample's size, carried inline
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			i := 0
			for b.Loop() {
				i++
				ref := &pb.ArticleRef{Id: fmt.Sprint(i), Version: 1}
				ev := &pb.ArticleReceived{Article: ref, Original: &pb.Payload{Location: &pb.Payload_Inline{Inline: body}}}
				if err := bs.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
