package bus_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestNewsroomsShareTheWorkers: a newsroom's burst of slow articles,
// sent before another newsroom's one article, does not hold that article
// back behind the whole burst. With one worker and a plain queue, b's
// article was handled last of all; shared out by newsroom, it is handled
// as soon as the worker is free, second at the latest.
func TestNewsroomsShareTheWorkers(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			b, _ := newBus(t)
			ctx := context.Background()
			send := func(newsroom, id string) {
				ref := &pb.ArticleRef{Id: id, Version: 1, Newsroom: newsroom}
				if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, &pb.ArticleReceived{Article: ref}); err != nil {
					t.Fatal(err)
				}
			}
			const burst = 20
			for i := range burst {
				send("heavy", fmt.Sprintf("H%02d", i))
			}
			send("light", "L00")

			cfg := consumerConfig(fmt.Sprintf("fair-%v", ordered))
			cfg.Workers, cfg.Ordered = 1, ordered
			var mu sync.Mutex
			var order []string
			run(t, b, cfg, func(_ context.Context, m *bus.Msg) error {
				mu.Lock()
				first := len(order) == 0
				mu.Unlock()
				switch {
				case first:
					// Time for the process to take in the rest of the
					// stream: it can share out only what it holds (a CI
					// run under the race detector once had only H01 in
					// hand when H00 was done).
					time.Sleep(300 * time.Millisecond)
				case m.ArticleID[0] == 'H':
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				order = append(order, m.ArticleID)
				mu.Unlock()
				return nil
			})
			eventually(t, "every article handled", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(order) == burst+1
			})
			mu.Lock()
			defer mu.Unlock()
			if at := slices.Index(order, "L00"); at > 1 {
				t.Errorf("the light newsroom's article was handled %d of %d: %v", at+1, len(order), order)
			}
			// Within a newsroom, the stream's order stays.
			heavy := slices.DeleteFunc(slices.Clone(order), func(id string) bool { return id[0] != 'H' })
			if !slices.IsSorted(heavy) {
				t.Errorf("the heavy newsroom's articles out of order: %v", heavy)
			}
		})
	}
}
