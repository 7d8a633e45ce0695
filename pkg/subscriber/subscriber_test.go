package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// publisher sends site events as Pressline's publish stage does.
type publisher struct {
	t  *testing.T
	b  *bus.Bus
	js jetstream.JetStream
}

func newPublisher(t *testing.T) *publisher {
	t.Helper()
	_, nc := testenv.NATS(t)
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &publisher{t: t, b: b, js: b.JetStream()}
}

func (p *publisher) send(site string, k events.Kind, id string, version uint32) {
	p.t.Helper()
	ref := &pb.ArticleRef{Id: id, Version: version, Sites: []string{site}}
	ev := &pb.ArticlePublished{Article: ref, Kind: k.Proto(), Site: site, Url: "https://news.test/" + site + "/" + id + "/",
		Title: id, PublishedAt: timestamppb.Now()}
	if k != events.Withdrawn {
		ev.NinjsUrl = ev.Url + "ninjs.json"
	}
	if err := p.b.Publish(context.Background(), layout.SiteSubject(site, k), bus.MsgID(ref, string(k)+"/"+site), ref, ev); err != nil {
		p.t.Fatal(err)
	}
}

// follower runs subscriber.Run and records what it was handed.
type follower struct {
	mu   sync.Mutex
	got  []string
	seqs []uint64
	fail func(subscriber.Event) bool // when true, the handler fails once
}

func (f *follower) handle(_ context.Context, ev subscriber.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil && f.fail(ev) {
		f.fail = nil
		return errors.New("downstream database away")
	}
	f.got = append(f.got, fmt.Sprintf("%s %s v%d %s", ev.Kind, ev.ArticleID, ev.Version, ev.Site))
	f.seqs = append(f.seqs, ev.Sequence)
	return nil
}

func (f *follower) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// run follows until n events were handled, then stops.
func (f *follower) run(t *testing.T, js jetstream.JetStream, cfg subscriber.Config, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- subscriber.Run(ctx, js, cfg, f.handle) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(f.seen()) < n {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("handled %v, want %d events", f.seen(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a wrong extra one
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFollowsOneSiteInOrderAndResumes(t *testing.T) {
	p := newPublisher(t)
	p.send("front", events.Published, "A", 1)
	p.send("city", events.Published, "A", 1) // another site's: never seen
	p.send("front", events.Published, "B", 1)
	f := &follower{}
	cfg := subscriber.Config{Site: "front", Durable: "mirror-front", RetryDelay: 50 * time.Millisecond}
	f.run(t, p.js, cfg, 2)

	// Away: a correction and a withdrawal arrive meanwhile.
	p.send("front", events.Updated, "A", 2)
	p.send("front", events.Withdrawn, "B", 2)
	// Back under the same name, a failed handler in between: the event
	// comes again and nothing overtakes it.
	f.fail = func(ev subscriber.Event) bool { return ev.Kind == events.Updated }
	f.run(t, p.js, cfg, 4)
	want := []string{"published A v1 front", "published B v1 front", "updated A v2 front", "withdrawn B v2 front"}
	if got := f.seen(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handled %v\nwant    %v", got, want)
	}
	for i := 1; i < len(f.seqs); i++ {
		if f.seqs[i] <= f.seqs[i-1] {
			t.Errorf("sequences not increasing: %v", f.seqs)
		}
	}
}

// A new subscriber with StartAt replays history from that time only.
func TestStartAt(t *testing.T) {
	p := newPublisher(t)
	p.send("front", events.Published, "OLD", 1)
	time.Sleep(50 * time.Millisecond)
	from := time.Now()
	p.send("front", events.Published, "NEW", 1)
	f := &follower{}
	f.run(t, p.js, subscriber.Config{Site: "front", Durable: "late", StartAt: from}, 1)
	if got := f.seen(); len(got) != 1 || got[0] != "published NEW v1 front" {
		t.Errorf("handled %v, want only NEW", got)
	}
}

func TestConfigRequired(t *testing.T) {
	p := newPublisher(t)
	if err := subscriber.Run(context.Background(), p.js, subscriber.Config{Site: "front"}, nil); err == nil {
		t.Error("Run without Durable succeeded")
	}
}
