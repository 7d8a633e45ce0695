package bus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func newBus(t *testing.T) (*bus.Bus, *prometheus.Registry) {
	t.Helper()
	_, nc := testenv.NATS(t)
	reg := prometheus.NewPedanticRegistry()
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), bus.NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	return b, reg
}

func received(id string) (*pb.ArticleRef, *pb.ArticleReceived) {
	ref := &pb.ArticleRef{Id: id, Version: 1, Newsroom: "test"}
	return ref, &pb.ArticleReceived{Article: ref, OriginalKey: "originals/" + id}
}

func consumerConfig(stage string) bus.ConsumerConfig {
	return bus.ConsumerConfig{
		Stage: stage, Subject: layout.SubjectReceived, Workers: 2, MaxAttempts: 3,
		AckWait: 5 * time.Second, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
}

// run consumes in the background until the test ends or stop is called.
func run(t *testing.T, b *bus.Bus, cfg bus.ConsumerConfig, h bus.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Consume(ctx, cfg, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("consume: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A ceiling, not a wait: a message the server had sent to a consumer
	// that was draining comes back after AckWait, which takes longer
	// under load.
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deadLetters(t *testing.T, b *bus.Bus) []bus.DeadLetterRecord {
	t.Helper()
	var out []bus.DeadLetterRecord
	for rec, err := range b.DeadLetters(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func TestPublishDeduplicates(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	ref, ev := received("A1")
	for range 3 {
		if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	var got atomic.Int32
	run(t, b, consumerConfig("clean"), func(ctx context.Context, m *bus.Msg) error {
		if m.ArticleID != "A1" || m.Version != 1 {
			t.Errorf("headers: id %q version %d", m.ArticleID, m.Version)
		}
		var ev pb.ArticleReceived
		if err := proto.Unmarshal(m.Data, &ev); err != nil || ev.GetOriginalKey() != "originals/A1" {
			t.Errorf("body: %v %v", err, ev.GetOriginalKey())
		}
		got.Add(1)
		return nil
	})
	eventually(t, "delivery", func() bool { return got.Load() >= 1 })
	time.Sleep(200 * time.Millisecond)
	if got.Load() != 1 {
		t.Fatalf("three publishes with one id delivered %d times, want 1", got.Load())
	}
}

func TestFailureEndsInDeadLetter(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantAttempts uint32
		permanent    bool
		schedule     []time.Duration
	}{
		{"retryable until attempts run out", fault.Retry(errors.New("s3 down"), 0), 3, false, nil},
		{"unclassified is retried", errors.New("who knows"), 3, false, nil},
		{"permanent at once", fault.Permanent(errors.New("not an article")), 1, true, nil},
		{"retried on its schedule, then given up", errors.New("receiver down"), 5, false, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, reg := newBus(t)
			ref, ev := received("P1")
			if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
				t.Fatal(err)
			}
			var attempts atomic.Int32
			gaveUp := make(chan error, 1)
			cfg := consumerConfig("clean")
			cfg.Schedule = tt.schedule
			cfg.OnGiveUp = func(_ context.Context, m *bus.Msg, err error) { gaveUp <- err }
			run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
				attempts.Add(1)
				return tt.err
			})
			select {
			case <-gaveUp:
			case <-time.After(10 * time.Second):
				t.Fatalf("never gave up after %d attempts", attempts.Load())
			}
			dls := deadLetters(t, b)
			if len(dls) != 1 {
				t.Fatalf("%d dead letters, want 1", len(dls))
			}
			dl := dls[0]
			if dl.Stage != "clean" || dl.ArticleId != "P1" || dl.Attempts != tt.wantAttempts || dl.Permanent != tt.permanent || dl.Subject != layout.SubjectReceived {
				t.Errorf("dead letter = stage %s id %s attempts %d permanent %v subject %s", dl.Stage, dl.ArticleId, dl.Attempts, dl.Permanent, dl.Subject)
			}
			if dl.Error == "" {
				t.Error("dead letter has no error")
			}
			time.Sleep(200 * time.Millisecond) // a terminated message must not come back
			if got := attempts.Load(); got != int32(tt.wantAttempts) {
				t.Errorf("handler ran %d times, want %d", got, tt.wantAttempts)
			}
			if got := counterValue(t, reg, "pressline_stage_messages_total", "outcome", "dead_letter"); got != 1 {
				t.Errorf("dead_letter outcome counted %v, want 1", got)
			}
			if got := counterValue(t, reg, "pressline_deadletter_messages", "stage", "clean"); got != 1 {
				t.Errorf("dead letters stored: gauge %v, want 1", got)
			}
		})
	}
}

// counterValue reads one labelled series (of a counter or a gauge) of a counter back from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func TestReplayDeadLetter(t *testing.T) {
	b, _ := newBus(t)
	ref, ev := received("R1")
	if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	var done atomic.Int32
	run(t, b, consumerConfig("clean"), func(ctx context.Context, m *bus.Msg) error {
		if !healthy.Load() {
			return fault.Permanent(errors.New("broken until fixed"))
		}
		if m.ArticleID != "R1" {
			t.Errorf("replayed message lost its headers: %q", m.ArticleID)
		}
		done.Add(1)
		return nil
	})
	eventually(t, "dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	id := deadLetters(t, b)[0].ID

	healthy.Store(true) // the operator fixed the cause
	if _, err := b.ReplayDeadLetter(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replayed message handled", func() bool { return done.Load() == 1 })
	if n := len(deadLetters(t, b)); n != 0 {
		t.Errorf("%d dead letters after a successful replay, want 0", n)
	}
	if _, err := b.ReplayDeadLetter(context.Background(), id); !errors.Is(err, bus.ErrNoDeadLetter) {
		t.Errorf("second replay: %v, want ErrNoDeadLetter", err)
	}
}

// TestShutdownFinishesInFlight stops a consumer while its handler is busy:
// the handler must complete and its message be acknowledged, so a new
// consumer sees nothing again and nothing is lost.
func TestShutdownFinishesInFlight(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	for _, id := range []string{"S1", "S2", "S3", "S4"} {
		ref, ev := received(id)
		if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := map[string]int{}
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	cfg := consumerConfig("clean")
	cfg.Workers = 1
	cfg.AckWait = 2 * time.Second // a message caught mid-drain comes back sooner
	stop := run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		started <- struct{}{}
		<-release
		mu.Lock()
		handled[m.ArticleID]++
		mu.Unlock()
		return nil
	})
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("shutdown returned while a handler was still working")
	default:
	}
	close(release)
	<-stopped

	run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		mu.Lock()
		handled[m.ArticleID]++
		mu.Unlock()
		return nil
	})
	eventually(t, "all four handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 4
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times across the restart, want 1", id, n)
		}
	}
}

func TestMetricsLint(t *testing.T) {
	b, reg := newBus(t)
	run(t, b, consumerConfig("clean"), func(ctx context.Context, m *bus.Msg) error { return nil })
	ref, ev := received("M1")
	if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	eventually(t, "consumer gauges", func() bool {
		return testutil.CollectAndCount(reg, "pressline_consumer_pending_messages") == 1
	})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

func TestOrderedKeepsVersionOrderPerArticle(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	const articles, versions = 6, 5
	for v := 1; v <= versions; v++ {
		for a := range articles {
			ref := &pb.ArticleRef{Id: string(rune('A' + a)), Version: uint32(v), Newsroom: "test"}
			if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, &pb.ArticleReceived{Article: ref}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	seen := map[string][]uint32{}
	cfg := consumerConfig("ordered")
	cfg.Workers, cfg.Ordered = 4, true
	run(t, b, cfg, func(_ context.Context, m *bus.Msg) error {
		// Earlier versions take longer: without ordering they would be
		// overtaken by later ones on other workers.
		time.Sleep(time.Duration(versions-int(m.Version)) * 3 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		seen[m.ArticleID] = append(seen[m.ArticleID], m.Version)
		return nil
	})
	waitInOrder(t, &mu, seen, articles*versions)
}

// waitInOrder waits until n messages were seen, then checks that each
// article's versions were handled as 1, 2, 3, …
func waitInOrder(t *testing.T, mu *sync.Mutex, seen map[string][]uint32, n int) {
	t.Helper()
	eventually(t, "every message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got := 0
		for _, vs := range seen {
			got += len(vs)
		}
		return got == n
	})
	mu.Lock()
	defer mu.Unlock()
	for id, vs := range seen {
		for i, v := range vs {
			if v != uint32(i+1) {
				t.Fatalf("article %s handled in order %v", id, vs)
			}
		}
	}
}

func TestReplaySubjectTargetsOneStage(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	cfg := consumerConfig("only-me")
	cfg.Stream, cfg.Subject = layout.StreamSites, ""
	cfg.Subjects = []string{layout.SiteSubject("front", events.Published), layout.WebhookSubject("only-me")}
	cfg.ReplaySubject, cfg.MaxAttempts = layout.WebhookSubject("only-me"), 1
	var calls atomic.Int32
	run(t, b, cfg, func(_ context.Context, m *bus.Msg) error {
		if calls.Add(1) == 1 {
			return fault.Permanent(errors.New("receiver said no"))
		}
		return nil
	})
	ref := &pb.ArticleRef{Id: "X", Version: 1}
	if err := b.Publish(ctx, layout.SiteSubject("front", events.Published), "x", ref, &pb.ArticlePublished{Article: ref}); err != nil {
		t.Fatal(err)
	}
	var dls []bus.DeadLetterRecord
	eventually(t, "a dead letter", func() bool { dls = deadLetters(t, b); return len(dls) == 1 })
	if dls[0].Subject != layout.WebhookSubject("only-me") {
		t.Fatalf("dead letter subject %q", dls[0].Subject)
	}
	if _, err := b.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replay", func() bool { return calls.Load() == 2 })
}

// TestOrderedWaitingMessagesAreKeptAlive: a message waiting behind its
// article's slow one, longer than AckWait, is not delivered again.
func TestOrderedWaitingMessagesAreKeptAlive(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	for v := uint32(1); v <= 2; v++ {
		ref := &pb.ArticleRef{Id: "A", Version: v}
		if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, &pb.ArticleReceived{Article: ref}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := consumerConfig("slow-head")
	cfg.Ordered, cfg.AckWait = true, time.Second
	var mu sync.Mutex
	var seen []uint32
	run(t, b, cfg, func(_ context.Context, m *bus.Msg) error {
		if m.Version == 1 {
			time.Sleep(3 * time.Second)
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m.Version)
		return nil
	})
	eventually(t, "both", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 2 })
	time.Sleep(1500 * time.Millisecond) // room for a redelivered copy
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("handled %v, want [1 2]", seen)
	}
}

// TestSpansAndExemplars: a handled message gets a span continuing the
// publisher's trace, and its duration an exemplar with the trace id.
func TestSpansAndExemplars(t *testing.T) {
	_, nc := testenv.NATS(t)
	reg := prometheus.NewPedanticRegistry()
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	cfg := bus.DefaultConfig()
	cfg.Tracing = tp
	b, err := bus.New(context.Background(), nc, cfg, slog.New(slog.DiscardHandler), bus.NewMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tp.Tracer("test").Start(context.Background(), "submit")
	want := span.SpanContext().TraceID().String()
	ref, ev := received("T1")
	if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	span.End()
	got := make(chan string, 1)
	run(t, b, consumerConfig("clean"), func(_ context.Context, m *bus.Msg) error { got <- m.TraceID; return nil })
	select {
	case id := <-got:
		if id != want {
			t.Fatalf("handler's trace %s, want the publisher's %s", id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not handled")
	}
	eventually(t, "an exemplar", func() bool {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "pressline_stage_handle_duration_seconds" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, b := range m.GetHistogram().GetBucket() {
					for _, l := range b.GetExemplar().GetLabel() {
						if l.GetName() == "trace_id" && l.GetValue() == want {
							return true
						}
					}
				}
			}
		}
		return false
	})
}

// TestWaitingForAWorkerIsNotRedelivered: messages pulled while every
// worker is busy wait longer than AckWait, and still come once.
func TestWaitingForAWorkerIsNotRedelivered(t *testing.T) {
	b, reg := newBus(t)
	ctx := context.Background()
	for _, id := range []string{"W1", "W2", "W3"} {
		ref, ev := received(id)
		if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	cfg := consumerConfig("one-worker")
	cfg.Workers, cfg.AckWait = 1, time.Second
	var handled atomic.Int32
	run(t, b, cfg, func(context.Context, *bus.Msg) error {
		time.Sleep(1500 * time.Millisecond)
		handled.Add(1)
		return nil
	})
	eventually(t, "three handled", func() bool { return handled.Load() >= 3 })
	time.Sleep(2 * time.Second)
	if n := handled.Load(); n != 3 {
		t.Errorf("handled %d times, want 3", n)
	}
	if got := counterValue(t, reg, "pressline_stage_redeliveries_total", "stage", "one-worker"); got != 0 {
		t.Errorf("%v redeliveries", got)
	}
}
