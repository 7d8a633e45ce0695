package webhooks

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/testenv"
)

// TestLogSinceFindsTheFirstRecordedThen: the binary search for since
// lands on the first attempt recorded at or after it, whichever
// subscriber the attempts around it are for.
func TestLogSinceFindsTheFirstRecordedThen(t *testing.T) {
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenLog(context.Background(), js, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var marks []time.Time // before each of a's attempts
	for i := range 40 {
		sub := "b"
		if i%3 == 0 {
			sub = "a"
			marks = append(marks, time.Now())
			time.Sleep(2 * time.Millisecond)
		}
		if err := l.Record(ctx, Attempt{Subscriber: sub, WebhookID: fmt.Sprintf("msg_%d", i), Attempt: 1, Outcome: Delivered}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	for k, since := range marks {
		got, _, err := l.Attempts(ctx, Query{Subscriber: "a", Since: since, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if want := len(marks) - k; len(got) != want || got[0].WebhookID != fmt.Sprintf("msg_%d", 3*k) {
			t.Errorf("since mark %d: %d attempts from %v, want %d from msg_%d", k, len(got), got, want, 3*k)
		}
	}
}

func TestFailedEvents(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts []Attempt
		want     []uint64
	}{
		{"none", nil, []uint64{}},
		{"failed, then delivered by a redelivery", []Attempt{
			{Seq: 1, WebhookID: "msg_a", Outcome: Failed, EventSeq: 10},
			{Seq: 2, WebhookID: "msg_a", Outcome: Delivered, EventSeq: 50},
		}, []uint64{}},
		{"retried, then failed", []Attempt{
			{Seq: 1, WebhookID: "msg_a", Outcome: Retrying, EventSeq: 10},
			{Seq: 2, WebhookID: "msg_b", Outcome: Failed, EventSeq: 11},
			{Seq: 3, WebhookID: "msg_a", Outcome: Failed, EventSeq: 10},
		}, []uint64{11, 10}},
		{"still retrying or disabled", []Attempt{
			{Seq: 1, WebhookID: "msg_a", Outcome: Retrying, EventSeq: 10},
			{Seq: 2, WebhookID: "msg_b", Outcome: Disabled, EventSeq: 11},
		}, []uint64{}},
	} {
		if got := FailedEvents(tc.attempts); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
