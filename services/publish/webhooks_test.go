package publish

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/status"
)

// TestWebhookRetrySchedule: a receiver that fails twice with 503, then asks
// for a second's patience with 429, then takes the event.
func TestWebhookRetrySchedule(t *testing.T) {
	f := newFixture(t)
	rec := newReceiver(t)
	rec.script = func(n int, w http.ResponseWriter) bool {
		switch n {
		case 0, 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			return true
		}
		return false
	}
	hook := rec.hook("flaky")
	hook.Sites = []string{"front"}
	f.start(t, hook)
	f.send(t, id1, 1, article("Thử lại"), time.Time{}, "")
	waitFor(t, "the delivery", func() bool { return len(rec.got()) == 1 })
	all := rec.all()
	if len(all) != 4 {
		t.Fatalf("%d requests, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].id != all[0].id {
			t.Errorf("webhook-id changed between attempts: %s, %s", all[0].id, all[i].id)
		}
	}
	// Back-off from 100 ms doubling, jittered into its upper half; then
	// the receiver's Retry-After.
	gaps := []time.Duration{all[1].at.Sub(all[0].at), all[2].at.Sub(all[1].at), all[3].at.Sub(all[2].at)}
	if gaps[0] < 50*time.Millisecond || gaps[1] < 100*time.Millisecond || gaps[2] < time.Second {
		t.Errorf("retry gaps %v, want ≥ 50ms, ≥ 100ms, ≥ 1s (Retry-After)", gaps)
	}
	if got := rec.got()[0]; got.id != "msg_"+id1+"_v1_front_published" || got.body.Type != "article.published" {
		t.Errorf("delivered %s %s", got.id, got.body.Type)
	}
	if n := counter(t, f.reg, "pressline_webhook_deliveries_total", "subscriber", "flaky", "outcome", "retry"); n != 3 {
		t.Errorf("retry counter %v, want 3", n)
	}
}

// TestWebhookDeadLetterAndReplay: a receiver down past the deadline gives
// a dead letter; replaying it reaches that receiver alone, once it is
// back.
func TestWebhookDeadLetterAndReplay(t *testing.T) {
	f := newFixture(t)
	down, fine := newReceiver(t), newReceiver(t)
	var healthy atomic.Bool
	down.script = func(n int, w http.ResponseWriter) bool {
		if healthy.Load() {
			return true
		}
		w.WriteHeader(http.StatusBadGateway)
		return false
	}
	dead := down.hook("down")
	dead.Sites, dead.Deadline = []string{"front"}, 700*time.Millisecond
	other := fine.hook("fine")
	other.Sites = []string{"front"}
	f.start(t, dead, other)
	f.send(t, id1, 1, article("Ai cũng nhận"), time.Time{}, "")
	waitFor(t, "a dead letter", func() bool { return len(f.deadLetters(t)) == 1 })
	dl := f.deadLetters(t)[0]
	if dl.Stage != "webhook-down" || dl.Subject != bus.WebhookSubject("down") || !strings.Contains(dl.Error, "deadline") || !dl.Permanent {
		t.Errorf("dead letter %+v", dl.DeadLetter)
	}
	if len(down.all()) < 2 {
		t.Errorf("%d attempts before giving up", len(down.all()))
	}
	if n := counter(t, f.reg, "pressline_webhook_deliveries_total", "subscriber", "down", "outcome", "failed"); n != 1 {
		t.Errorf("failed counter %v", n)
	}
	healthy.Store(true)
	if _, err := f.bus.ReplayDeadLetter(context.Background(), dl.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed delivery", func() bool { return len(down.got()) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := len(fine.got()); n != 1 {
		t.Errorf("the healthy receiver got %d deliveries, want 1 (the replay is not for it)", n)
	}
}

// TestWebhookNoRetryOn4xx: a receiver that says the request is wrong is
// not asked again.
func TestWebhookNoRetryOn4xx(t *testing.T) {
	f := newFixture(t)
	rec := newReceiver(t)
	rec.script = func(n int, w http.ResponseWriter) bool { w.WriteHeader(http.StatusGone); return false }
	hook := rec.hook("gone")
	hook.Sites = []string{"front"}
	f.start(t, hook)
	f.send(t, id1, 1, article("Không cần"), time.Time{}, "")
	waitFor(t, "a dead letter", func() bool { return len(f.deadLetters(t)) == 1 })
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestSlowSubscriberDelaysNoOne: one receiver takes a second an event,
// another answers at once and gets everything first; each receives an
// article's versions in order.
func TestSlowSubscriberDelaysNoOne(t *testing.T) {
	f := newFixture(t)
	slow, fast := newReceiver(t), newReceiver(t)
	slow.script = func(n int, w http.ResponseWriter) bool { time.Sleep(time.Second); return true }
	sh, fh := slow.hook("slow"), fast.hook("fast")
	sh.Sites, fh.Sites = []string{"front"}, []string{"front"}
	f.start(t, sh, fh)
	for v := uint32(1); v <= 3; v++ {
		f.send(t, id1, v, article("Phiên bản"), time.Time{}, "")
		f.waitState(t, id1, v, status.Published)
	}
	waitFor(t, "the fast receiver", func() bool { return len(fast.got()) == 3 })
	if n := len(slow.got()); n >= 3 {
		t.Errorf("the slow receiver was as quick as the fast one (%d)", n)
	}
	waitFor(t, "the slow receiver", func() bool { return len(slow.got()) == 3 })
	for _, r := range []*receiver{slow, fast} {
		got := r.got()
		for i, want := range []string{"_v1_front_published", "_v2_front_updated", "_v3_front_updated"} {
			if !strings.HasSuffix(got[i].id, want) {
				t.Errorf("delivery %d is %s, want …%s", i, got[i].id, want)
			}
		}
	}
}

// TestWebhookAddressGuard: a subscriber URL the guard refuses is a dead
// letter at once, with the reason, and is never retried.
func TestWebhookAddressGuard(t *testing.T) {
	f := newFixture(t)
	rec := newReceiver(t)
	hook := rec.hook("private")
	hook.Sites = []string{"front"}
	f.startGuarded(t, hook)
	f.send(t, id1, 1, article("Không được gửi"), time.Time{}, "")
	waitFor(t, "a dead letter", func() bool { return len(f.deadLetters(t)) == 1 })
	if dl := f.deadLetters(t)[0]; !strings.Contains(dl.Error, "not a public address") {
		t.Errorf("dead letter error %q", dl.Error)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("the receiver on loopback got %d requests", n)
	}
}
