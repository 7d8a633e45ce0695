package natsembed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/testenv"
)

// A full disk leaves a single nats-server's stream failing every write
// (its write error sticks until the stream is opened again): once the
// disk has room again, the server starts JetStream again on the same
// store, and what was stored before is there.
func TestJetStreamComesBackAfterTheDiskIsFreed(t *testing.T) {
	disk := testenv.SmallDisk(t, 32<<20)
	srv, nc := testenv.NATSIn(t, disk)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "DISK", Subjects: []string{"disk.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(i int) error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "disk.x", fmt.Appendf(nil, "message %d", i))
		return err
	}
	for i := range 10 {
		if err := publish(i); err != nil {
			t.Fatal(err)
		}
	}

	free := testenv.FillDisk(t, disk)
	var failed bool
	for i := 10; i < 200 && !failed; i++ {
		if err := publish(i); err != nil {
			t.Logf("publish %d on a full disk: %v", i, err)
			failed = true
		}
	}
	if !failed {
		t.Fatal("publishes went on succeeding on a full disk")
	}
	// Several restart periods: nothing is restarted while the disk is
	// full, and writes go on failing.
	time.Sleep(time.Second)
	if err := publish(500); err == nil {
		t.Fatal("a publish succeeded on a full disk")
	}
	if n := srv.JetStreamRestarts(); n != 0 {
		t.Fatalf("JetStream restarted %d times on a full disk", n)
	}

	free()
	var err2 error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err2 = publish(1000); err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream still refuses writes 20 s after the disk was freed: %v", err2)
		}
	}
	if n := srv.JetStreamRestarts(); n != 1 {
		t.Errorf("JetStream restarted %d times, want 1", n)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs < 11 {
		t.Errorf("stream holds %d messages after the restart, want the 10 from before and the new one", info.State.Msgs)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "message 0" {
		t.Errorf("first message after the restart = %v, %v", m, err)
	}
}
