package subscriber_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/natsembed"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// A downstream site follows its own events. Here an in-process NATS
// server stands in for Pressline's, and the events are published as the
// publish stage does; a real site passes its own connection to Run.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "subscriber-example")
	defer os.RemoveAll(dir)
	srv, err := natsembed.Start(natsembed.Config{Dir: dir, Port: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	b, _ := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	for _, e := range []struct {
		k events.Kind
		v uint32
	}{{events.Published, 1}, {events.Updated, 2}, {events.Withdrawn, 3}} {
		ref := &pb.ArticleRef{Id: "01KB0000000000000000000001", Version: e.v}
		ev := &pb.ArticlePublished{Article: ref, Kind: e.k.Proto(), Site: "front", Title: "Tin nổi bật", PublishedAt: timestamppb.Now()}
		_ = b.Publish(context.Background(), layout.SiteSubject("front", e.k), bus.MsgID(ref, string(e.k)), ref, ev)
	}

	// What a downstream site writes:
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = subscriber.Run(ctx, js, subscriber.Config{Site: "front", Durable: "my-site"}, func(_ context.Context, ev subscriber.Event) error {
		fmt.Println(ev.Kind, ev.ArticleID, "version", ev.Version)
		if ev.Kind == events.Withdrawn {
			cancel() // the example has seen everything
		}
		return nil
	})
	fmt.Println("stopped:", err)
	// Output:
	// published 01KB0000000000000000000001 version 1
	// updated 01KB0000000000000000000001 version 2
	// withdrawn 01KB0000000000000000000001 version 3
	// stopped: <nil>
}
