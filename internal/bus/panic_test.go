package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/natsembed"
	"github.com/pressline/pressline/internal/testenv"
)

func explode() { panic("index out of range in the rules") }

// TestPanicEndsInDeadLetter: a handler that panics on one article makes
// it a dead letter at once, with the panic and where it happened; the
// consumer goes on with the others, and the dead letter replays.
func TestPanicEndsInDeadLetter(t *testing.T) {
	b, reg := newBus(t)
	for _, id := range []string{"OK1", "BOOM", "OK2"} {
		ref, ev := received(id)
		if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	var fixed atomic.Bool
	var done, boomTries atomic.Int32
	gaveUp := make(chan error, 1)
	cfg := consumerConfig("clean")
	cfg.OnGiveUp = func(ctx context.Context, m *bus.Msg, err error) {
		if ctx.Err() != nil {
			t.Errorf("OnGiveUp got a spent context: %v", ctx.Err())
		}
		gaveUp <- err
	}
	run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		if m.ArticleID == "BOOM" && !fixed.Load() {
			boomTries.Add(1)
			explode()
		}
		done.Add(1)
		return nil
	})
	var err error
	select {
	case err = <-gaveUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the panicking message never became a dead letter")
	}
	eventually(t, "the other articles", func() bool { return done.Load() == 2 })
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "index out of range in the rules") {
		t.Errorf("OnGiveUp told %v", err)
	}
	dls := deadLetters(t, b)
	if len(dls) != 1 || dls[0].ArticleId != "BOOM" || !dls[0].Permanent || dls[0].Attempts != 1 ||
		!strings.Contains(dls[0].Error, "panic: index out of range in the rules, at ") || !strings.Contains(dls[0].Error, "bus_test.explode (panic_test.go:") {
		t.Fatalf("dead letters %+v", dls)
	}
	if got := counterValue(t, reg, "pressline_stage_panics_total", "stage", "clean"); got != 1 {
		t.Errorf("panics counted %v, want 1", got)
	}
	if boomTries.Load() != 1 {
		t.Errorf("the panicking handler ran %d times, want 1", boomTries.Load())
	}
	fixed.Store(true)
	if _, err := b.ReplayDeadLetter(context.Background(), dls[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replayed article", func() bool { return done.Load() == 3 })
}

// TestDeadLetterStoredAfterTheHandlerTimedOut: a handler that runs past
// its timeout leaves a spent context; the dead letter is still stored.
func TestDeadLetterStoredAfterTheHandlerTimedOut(t *testing.T) {
	b, _ := newBus(t)
	ref, ev := received("SLOW")
	if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	cfg := consumerConfig("clean")
	cfg.HandlerTimeout = 50 * time.Millisecond
	run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		<-ctx.Done() // CPU-bound work noticing its deadline only at the end
		return fault.Permanent(errors.New("too slow: " + ctx.Err().Error()))
	})
	eventually(t, "dead letter", func() bool { return len(deadLetters(t, b)) == 1 })
	if dl := deadLetters(t, b)[0]; dl.ArticleId != "SLOW" || !strings.Contains(dl.Error, "too slow") {
		t.Errorf("dead letter %+v", dl)
	}
}

// TestUnsettledDeliveriesEndInDeadLetter: a message whose deliveries
// never settle (the process handling it dies each time, say in a panic
// no recover sees) is made a dead letter once it is delivered more often
// than its attempts, without running the handler again; the server does
// not drop it on its own.
func TestUnsettledDeliveriesEndInDeadLetter(t *testing.T) {
	b, _ := newBus(t)
	cfg := consumerConfig("clean")
	cfg.AckWait = time.Second
	// Create the durable consumer as the stage does, then take the
	// message as a crashing process would: fetch it, never settle it.
	stop := run(t, b, cfg, func(context.Context, *bus.Msg) error { return nil })
	var cons jetstream.Consumer
	eventually(t, "the durable consumer", func() bool {
		c, err := b.JetStream().Consumer(context.Background(), layout.StreamArticles, "clean")
		cons = c
		return err == nil
	})
	stop()
	ref, ev := received("CRASH")
	if err := b.Publish(context.Background(), layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	if info, err := cons.Info(context.Background()); err != nil || info.Config.MaxDeliver != -1 {
		t.Fatalf("consumer MaxDeliver %v (%v), want no cap", info.Config.MaxDeliver, err)
	}
	for got := 0; got < cfg.MaxAttempts; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() {
			got++ // taken and dropped; back after AckWait
		}
	}
	var ran atomic.Int32
	gaveUp := make(chan error, 1)
	cfg.OnGiveUp = func(_ context.Context, _ *bus.Msg, err error) { gaveUp <- err }
	run(t, b, cfg, func(context.Context, *bus.Msg) error { ran.Add(1); return nil })
	select {
	case err := <-gaveUp:
		if fault.IsPermanent(err) || !strings.Contains(err.Error(), "more than its 3 attempts") {
			t.Errorf("gave up with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the message delivered beyond its attempts never became a dead letter")
	}
	if dls := deadLetters(t, b); len(dls) != 1 || dls[0].ArticleId != "CRASH" || dls[0].Permanent {
		t.Errorf("dead letters %+v", dls)
	}
	if ran.Load() != 0 {
		t.Errorf("the handler ran %d times on an overdue delivery", ran.Load())
	}
}

// TestPingNeedsJetStream: with the connection up but JetStream gone,
// Ping fails within its deadline.
func TestPingNeedsJetStream(t *testing.T) {
	// JetStream is switched off on purpose here: the server must not
	// start it again, as it does after a full disk.
	srv, nc := testenv.NATSWith(t, natsembed.Config{Dir: t.TempDir(), Port: -1, RestartEvery: time.Hour})
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("ping a working server: %v", err)
	}
	if err := srv.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err == nil || !nc.IsConnected() {
		t.Errorf("ping with JetStream disabled: %v (connected %v), want an error while connected", err, nc.IsConnected())
	}
}

// TestPingNeedsJetStreamToWrite: on a full disk JetStream still answers
// questions, but a stream that meets the full disk stops storing; Ping
// fails then, and passes again once the disk has room and the server has
// started JetStream again.
func TestPingNeedsJetStreamToWrite(t *testing.T) {
	disk := testenv.SmallDisk(t, 32<<20)
	_, nc := testenv.NATSIn(t, disk)
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return b.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("ping a working server: %v", err)
	}
	free := testenv.FillDisk(t, disk)
	// The last page of the stream's file may hold a few more messages.
	var failed error
	for i := 0; i < 500 && failed == nil; i++ {
		failed = ping()
	}
	if failed == nil {
		t.Fatal("ping passed 500 times on a full disk")
	}
	if !strings.Contains(failed.Error(), "cannot store") {
		t.Errorf("ping on a full disk: %v, want it to say JetStream cannot store", failed)
	}
	free()
	for deadline := time.Now().Add(20 * time.Second); ping() != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ping still failing 20 s after the disk was freed: %v", ping())
		}
	}
}

// TestShutdownHandsBackWhatWasNotStarted: on shutdown the one message in
// progress finishes, and those pulled but not started are handed back at
// once, so the next consumer has them long before AckWait.
func TestShutdownHandsBackWhatWasNotStarted(t *testing.T) {
	b, _ := newBus(t)
	ctx := context.Background()
	ids := []string{"H1", "H2", "H3", "H4"}
	for _, id := range ids {
		ref, ev := received(id)
		if err := b.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
			t.Fatal(err)
		}
	}
	cfg := consumerConfig("clean")
	cfg.Workers = 1
	cfg.AckWait = time.Minute
	var first atomic.Int32
	started := make(chan struct{}, len(ids))
	release := make(chan struct{})
	stop := run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		started <- struct{}{}
		<-release
		first.Add(1)
		return nil
	})
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	close(release)
	<-stopped
	if n := first.Load(); n != 1 {
		t.Errorf("the stopping consumer handled %d messages, want only the one in progress", n)
	}
	var mu sync.Mutex
	second := map[string]bool{}
	run(t, b, cfg, func(ctx context.Context, m *bus.Msg) error {
		mu.Lock()
		second[m.ArticleID] = true
		mu.Unlock()
		return nil
	})
	testenv.WaitFor(t, "the next consumer to have every message handed back, within a third of AckWait", cfg.AckWait/3, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(second) == len(ids)-1
	})
}
