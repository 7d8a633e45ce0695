package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// site is the published site as the mirror fetches it over HTTP.
type site struct {
	mu    sync.Mutex
	docs  map[string]string // id → ninjs
	fails atomic.Int32      // answer 500 this many times first
	srv   *httptest.Server
}

func newSite(t *testing.T) *site {
	s := &site{docs: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.fails.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		doc, ok := s.docs[strings.Trim(r.URL.Path, "/")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, doc)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) set(id, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if doc == "" {
		delete(s.docs, id)
	} else {
		s.docs[id] = doc
	}
}

// event publishes what the publish stage would, after setting the page.
func event(t *testing.T, b *bus.Bus, s *site, kind events.Kind, id string, version uint32, doc, msgID string) {
	t.Helper()
	s.set(id, doc)
	ref := &pb.ArticleRef{Id: id, Version: version, Sites: []string{"front"}}
	ev := &pb.ArticlePublished{Article: ref, Kind: kind.Proto(), Site: "front", Url: s.srv.URL + "/page/" + id, PublishedAt: timestamppb.Now()}
	if kind != events.Withdrawn {
		ev.NinjsUrl = s.srv.URL + "/" + id
	}
	if msgID == "" {
		msgID = bus.MsgID(ref, string(kind)+"/front")
	}
	if err := b.Publish(context.Background(), layout.SiteSubject("front", kind), msgID, ref, ev); err != nil {
		t.Fatal(err)
	}
}

// follow runs the mirror until every event so far is applied, then stops
// it, as a downstream site that comes and goes.
func follow(t *testing.T, b *bus.Bus, dir string, wantChanges int) *Mirror {
	t.Helper()
	m, err := Open(dir, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- subscriber.Run(ctx, b.JetStream(), subscriber.Config{Site: "front", Durable: "mirror", RetryDelay: 100 * time.Millisecond}, m.Apply)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m.mu.Lock()
		n := m.Changes
		m.mu.Unlock()
		if n >= wantChanges {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d changes applied, want %d", n, wantChanges)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong extra change
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return m
}

func read(t *testing.T, dir, id string) string {
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestMirrorFollowsTheSite: a site that joins late replays history, is
// away while articles are corrected, withdrawn and published, catches up,
// and ignores an event it sees twice.
func TestMirrorFollowsTheSite(t *testing.T) {
	_, nc := testenv.NATS(t)
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t)
	dir := t.TempDir()
	event(t, b, s, "published", "A", 1, `{"version":"1","headline":"A1"}`, "")
	event(t, b, s, "published", "B", 1, `{"version":"1","headline":"B1"}`, "")

	m := follow(t, b, dir, 2) // joins late: history replayed
	if read(t, dir, "A") == "" || read(t, dir, "B") == "" || m.Changes != 2 {
		t.Fatalf("after joining: A=%q B=%q changes=%d", read(t, dir, "A"), read(t, dir, "B"), m.Changes)
	}

	// Away: a correction, a withdrawal and a new article, one of whose
	// pages fails once.
	event(t, b, s, "updated", "A", 2, `{"version":"2","headline":"A2"}`, "")
	event(t, b, s, "withdrawn", "B", 2, "", "")
	s.fails.Store(1)
	event(t, b, s, "published", "C", 1, `{"version":"1","headline":"C1"}`, "")
	m = follow(t, b, dir, 3)
	if got := read(t, dir, "A"); !strings.Contains(got, "A2") {
		t.Errorf("A = %q, want the correction", got)
	}
	if got := read(t, dir, "B"); got != "" {
		t.Errorf("B = %q, want it withdrawn", got)
	}
	if got := read(t, dir, "C"); !strings.Contains(got, "C1") {
		t.Errorf("C = %q", got)
	}
	if m.Changes != 3 {
		t.Errorf("%d changes on catching up, want 3", m.Changes)
	}

	// The same correction again (a replay): nothing changes.
	event(t, b, s, "updated", "A", 2, `{"version":"2","headline":"A2 again"}`, "replayed")
	event(t, b, s, "published", "D", 1, `{"version":"1","headline":"D1"}`, "")
	m = follow(t, b, dir, 1)
	if m.Changes != 1 || strings.Contains(read(t, dir, "A"), "again") || read(t, dir, "D") == "" {
		t.Errorf("after a replayed event: changes=%d A=%q", m.Changes, read(t, dir, "A"))
	}
}
