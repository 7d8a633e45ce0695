package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestPartitionsKeepOrderAcrossProcesses runs one partitioned stage in
// two "processes" (two buses on their own connections) with several
// workers each: every article's versions are handled in order, a
// partition never has two messages in hand at once (a withdrawal can
// never overtake the version it takes down, wherever each is handled),
// a failed message is retried before anything after it, and both
// processes share the work.
func TestPartitionsKeepOrderAcrossProcesses(t *testing.T) {
	srv, _ := testenv.NATS(t)
	var buses []*bus.Bus
	for range 2 {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		buses = append(buses, b)
	}
	ctx := context.Background()
	const articles, versions = 24, 4
	for v := 1; v <= versions; v++ {
		for a := range articles {
			ref := &pb.ArticleRef{Id: fmt.Sprintf("01ART%02d", a), Version: uint32(v), Newsroom: "test"}
			subject := layout.MediaReadySubject(ref.Id)
			if v == versions {
				subject = layout.WithdrawSubject(ref.Id)
			}
			if err := buses[v%2].Publish(ctx, subject, bus.MsgID(ref, "x"), ref, &pb.MediaReady{Article: ref}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	seen := map[string][]uint32{}
	busy := map[int]bool{}
	byProcess := map[int]int{}
	failed := map[string]bool{}
	for i, b := range buses {
		cfg := consumerConfig("partitioned")
		cfg.Subject, cfg.Workers = "", 8
		cfg.Partitions, cfg.PartitionSubjects = layout.PublishPartitions, layout.PublishSubjects
		run(t, b, cfg, func(_ context.Context, m *bus.Msg) error {
			p := layout.PublishPartition(m.ArticleID)
			mu.Lock()
			if busy[p] {
				t.Errorf("partition %d has two messages in hand", p)
			}
			busy[p] = true
			mu.Unlock()
			// Earlier versions take longer: handled anywhere at once, they
			// would be overtaken by later ones.
			time.Sleep(time.Duration(versions-int(m.Version)) * 2 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			busy[p] = false
			key := fmt.Sprintf("%s/%d", m.ArticleID, m.Version)
			if m.Version == 2 && !failed[key] {
				failed[key] = true
				return errors.New("the first try of every second version fails")
			}
			seen[m.ArticleID] = append(seen[m.ArticleID], m.Version)
			byProcess[i]++
			if layout.IsWithdraw(m.Subject) != (m.Version == versions) {
				t.Errorf("%s: subject %s", key, m.Subject)
			}
			return nil
		})
	}
	waitInOrder(t, &mu, seen, articles*versions)
	mu.Lock()
	defer mu.Unlock()
	if byProcess[0] == 0 || byProcess[1] == 0 {
		t.Errorf("work per process %v: both should take some", byProcess)
	}
}
