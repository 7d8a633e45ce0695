package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/safefetch"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// fixture is the notify service on a real NATS server, fed the site
// events publish would send.
type fixture struct {
	bus *bus.Bus
	reg *prometheus.Registry
	svc *Service
	log *webhooks.Log
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, nc := testenv.NATS(t)
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	log, err := webhooks.OpenLog(context.Background(), b.JetStream(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{bus: b, reg: prometheus.NewPedanticRegistry(), log: log}
}

// start runs the service until the test's end. Its webhooks may reach
// the test's receivers on loopback.
func (f *fixture) start(t *testing.T, hooks ...config.Webhook) {
	t.Helper()
	f.startWith(t, http.DefaultClient, nil, hooks)
}

// startGuarded sends webhooks through the address guard, as production
// does.
func (f *fixture) startGuarded(t *testing.T, hooks ...config.Webhook) {
	t.Helper()
	f.startWith(t, safefetch.New(safefetch.Config{}), func(err error) bool { return errors.Is(err, safefetch.ErrRefused) }, hooks)
}

func (f *fixture) startWith(t *testing.T, client Doer, refused func(error) bool, hooks []config.Webhook) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	subs := f.subscribers(t)
	s, err := New(Config{Bus: f.bus, Subscribers: subs, Attempts: f.log, Webhooks: hooks, Client: client, Refused: refused,
		Consumer: bus.ConsumerConfig{Workers: 2, AckWait: 5 * time.Second},
		Log:      slog.New(slog.DiscardHandler), Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = s
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// subscribers is the subscribers' bucket the service watches.
func (f *fixture) subscribers(t *testing.T) *webhooks.Store {
	t.Helper()
	subs, err := webhooks.Open(context.Background(), f.bus.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// send publishes what the publish stage publishes for one version on
// one site.
func (f *fixture) send(t *testing.T, id string, version uint32, site string, k events.Kind) {
	t.Helper()
	ref := &pb.ArticleRef{Id: id, Version: version, Newsroom: "n", Sites: []string{"front", "city"}, ReceivedAt: timestamppb.Now()}
	ev := &pb.ArticlePublished{Article: ref, Kind: k.Proto(), Site: site, Url: "http://news.test/" + site + "/articles/x-" + id + "/",
		PublishedAt: timestamppb.Now(), Title: "Tin"}
	if err := f.bus.Publish(context.Background(), layout.SiteSubject(site, k), bus.MsgID(ref, string(k)+"/"+site), ref, ev); err != nil {
		t.Fatal(err)
	}
}

const id1 = "01KB00000000000000000000AA"

// receiver is a downstream site's webhook endpoint: it checks every
// signature, and answers with the codes it is told to.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	// script answers the n-th request (from 0); 200 when nil or past it.
	script func(n int, w http.ResponseWriter) bool
	reqs   []received
}

type received struct {
	at   time.Time
	id   string
	body webhook.Body
	ok   bool
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func mustSecret(t *testing.T) webhook.Secret {
	s, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	s, _ := webhook.ParseSecret(secret)
	if err := s.Verify(req.Header, body, time.Now()); err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b webhook.Body
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	r.mu.Lock()
	n := len(r.reqs)
	rec := received{at: time.Now(), id: req.Header.Get("webhook-id"), body: b}
	r.mu.Unlock()
	rec.ok = r.script == nil || r.script(n, w)
	if rec.ok {
		w.WriteHeader(http.StatusNoContent)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
}

// got is every request that was answered with success.
func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, x := range r.reqs {
		if x.ok {
			out = append(out, x)
		}
	}
	return out
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func (r *receiver) hook(name string) config.Webhook {
	return config.Webhook{Name: name, URL: r.srv.URL, Secret: mustSecret(r.t), Sites: []string{"front", "city"},
		Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}
}

func (f *fixture) deadLetters(t *testing.T) []bus.DeadLetterRecord {
	var out []bus.DeadLetterRecord
	for rec, err := range f.bus.DeadLetters(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

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
	f.send(t, id1, 1, "front", events.Published)
	testenv.WaitFor(t, "the delivery", 20*time.Second, func() bool { return len(rec.got()) == 1 })
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
	f.send(t, id1, 1, "front", events.Published)
	testenv.WaitFor(t, "a dead letter", 20*time.Second, func() bool { return len(f.deadLetters(t)) == 1 })
	dl := f.deadLetters(t)[0]
	// The attempts ran out (the deadline), which is not a permanent
	// refusal: a replay may well succeed.
	if dl.Stage != "webhook-down" || dl.Subject != layout.WebhookSubject("down") || !strings.Contains(dl.Error, "deadline") || dl.Permanent {
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
	testenv.WaitFor(t, "the replayed delivery", 20*time.Second, func() bool { return len(down.got()) == 1 })
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
	rec.script = func(n int, w http.ResponseWriter) bool { w.WriteHeader(http.StatusUnprocessableEntity); return false }
	hook := rec.hook("refuses")
	hook.Sites = []string{"front"}
	f.start(t, hook)
	f.send(t, id1, 1, "front", events.Published)
	testenv.WaitFor(t, "a dead letter", 20*time.Second, func() bool { return len(f.deadLetters(t)) == 1 })
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
		k := events.Updated
		if v == 1 {
			k = events.Published
		}
		f.send(t, id1, v, "front", k)
	}
	testenv.WaitFor(t, "the fast receiver", 20*time.Second, func() bool { return len(fast.got()) == 3 })
	if n := len(slow.got()); n >= 3 {
		t.Errorf("the slow receiver was as quick as the fast one (%d)", n)
	}
	testenv.WaitFor(t, "the slow receiver", 20*time.Second, func() bool { return len(slow.got()) == 3 })
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
	f.send(t, id1, 1, "front", events.Published)
	testenv.WaitFor(t, "a dead letter", 20*time.Second, func() bool { return len(f.deadLetters(t)) == 1 })
	if dl := f.deadLetters(t)[0]; !strings.Contains(dl.Error, "not a public address") {
		t.Errorf("dead letter error %q", dl.Error)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("the receiver on loopback got %d requests", n)
	}
}

// TestSubscribersChangeWithoutRestart: a subscriber added to the bucket
// (as the API does) while the service runs is delivered to; disabled, it
// gets nothing, and what was published meanwhile reaches it once it is
// enabled again; deleted, it gets nothing more.
func TestSubscribersChangeWithoutRestart(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	r := newReceiver(t)
	subs := f.subscribers(t)
	ctx := context.Background()
	if err := subs.Create(ctx, r.hook("later").Spec()); err != nil {
		t.Fatal(err)
	}
	f.send(t, "01KB00000000000000000000B1", 1, "front", events.Published)
	testenv.WaitFor(t, "the new subscriber's first delivery", 10*time.Second, func() bool { return len(r.got()) == 1 })

	set := func(change func(*config.WebhookSpec)) {
		if _, err := subs.Change(ctx, "later", func(s *config.WebhookSpec) error { change(s); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	subscribers := func(state string) func() bool {
		return func() bool {
			return testutil.ToFloat64(f.svc.metrics.subscribers.WithLabelValues(state)) == 1
		}
	}
	set(func(s *config.WebhookSpec) { s.Disabled, s.DisabledReason = true, "maintenance" })
	testenv.WaitFor(t, "the subscriber disabled", 10*time.Second, subscribers("disabled"))
	f.send(t, "01KB00000000000000000000B2", 1, "front", events.Published)
	time.Sleep(time.Second)
	if n := len(r.got()); n != 1 {
		t.Fatalf("a disabled subscriber got %d deliveries, want still 1", n)
	}
	set(func(s *config.WebhookSpec) { s.Disabled, s.DisabledReason = false, "" })
	testenv.WaitFor(t, "what was published while disabled", 10*time.Second, func() bool { return len(r.got()) == 2 })

	if err := subs.Delete(ctx, "later"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the subscriber gone", 10*time.Second, func() bool {
		return testutil.ToFloat64(f.svc.metrics.subscribers.WithLabelValues("delivering")) == 0
	})
	f.send(t, "01KB00000000000000000000B3", 1, "front", events.Published)
	time.Sleep(time.Second)
	if n := len(r.got()); n != 2 {
		t.Errorf("a deleted subscriber got %d deliveries, want still 2", n)
	}
}

// TestDisabledByTheReceiver: a receiver that answers 410 Gone asks for
// no more: its subscriber is disabled in the bucket, with the reason and
// the counter, no dead letter is made, and what it missed reaches it
// once an operator enables it again.
func TestDisabledByTheReceiver(t *testing.T) {
	for _, tc := range []struct {
		name, reason, why string
		status            int
		disableAfter      time.Duration
	}{
		{"gone", "gone", "answered 410 Gone", http.StatusGone, 0},
		{"failing", "failing", "no delivery succeeded", http.StatusServiceUnavailable, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.start(t)
			r := newReceiver(t)
			var back atomic.Bool
			r.script = func(n int, w http.ResponseWriter) bool {
				if back.Load() {
					return true
				}
				w.WriteHeader(tc.status)
				return false
			}
			hook := r.hook(tc.name)
			hook.Sites, hook.DisableAfter = []string{"front"}, tc.disableAfter
			subs := f.subscribers(t)
			ctx := context.Background()
			if err := subs.Create(ctx, hook.Spec()); err != nil {
				t.Fatal(err)
			}
			f.send(t, "01KB00000000000000000000C1", 1, "front", events.Published)
			var spec config.WebhookSpec
			testenv.WaitFor(t, "the subscriber disabled", 20*time.Second, func() bool {
				spec, _, _ = subs.Get(ctx, tc.name)
				return spec.Disabled
			})
			if !strings.Contains(spec.DisabledReason, tc.why) {
				t.Errorf("disabled_reason %q, want it to say %q", spec.DisabledReason, tc.why)
			}
			testenv.WaitFor(t, "its delivery stopped", 10*time.Second, func() bool {
				return testutil.ToFloat64(f.svc.metrics.subscribers.WithLabelValues("disabled")) == 1
			})
			if n := counter(t, f.reg, "pressline_webhook_auto_disabled_total", "subscriber", tc.name, "reason", tc.reason); n != 1 {
				t.Errorf("auto_disabled_total{reason=%q} = %v, want 1", tc.reason, n)
			}
			f.send(t, "01KB00000000000000000000C2", 1, "front", events.Published)
			tried := len(r.all())
			time.Sleep(time.Second)
			if n := len(r.all()); n != tried {
				t.Errorf("a disabled subscriber was sent %d more requests", n-tried)
			}
			if dls := f.deadLetters(t); len(dls) != 0 {
				t.Errorf("dead letters %+v: a disabled subscriber's events wait in its consumer", dls)
			}
			back.Store(true)
			if _, err := subs.Change(ctx, tc.name, func(s *config.WebhookSpec) error { s.Disabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "both events, once enabled again", 20*time.Second, func() bool { return len(r.got()) == 2 })
		})
	}
}

// TestDeliveryLog: every attempt is recorded with its status, latency,
// error and what came of it (a retry and when, a delivery, a failure),
// per subscriber and per event; an event that failed for good is found
// in a time range and, redelivered, reaches the receiver with its
// webhook-id unchanged.
func TestDeliveryLog(t *testing.T) {
	f := newFixture(t)
	rec := newReceiver(t)
	var refuse atomic.Bool
	refuse.Store(true)
	rec.script = func(n int, w http.ResponseWriter) bool {
		switch {
		case n == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case n >= 2 && refuse.Load(): // v2, sent once v1 is delivered
			w.WriteHeader(http.StatusUnprocessableEntity)
		default:
			return true
		}
		return false
	}
	hook := rec.hook("logged")
	hook.Sites = []string{"front"}
	began := time.Now().Add(-time.Second)
	f.start(t, hook)
	f.send(t, id1, 1, "front", events.Published)
	read := func(q webhooks.Query) []webhooks.Attempt {
		t.Helper()
		q.Subscriber, q.Limit = "logged", 100
		got, _, err := f.log.Attempts(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	testenv.WaitFor(t, "the first delivery recorded", 20*time.Second, func() bool { return len(read(webhooks.Query{})) == 2 })
	between := time.Now()
	f.send(t, id1, 2, "front", events.Updated)
	testenv.WaitFor(t, "three attempts recorded", 20*time.Second, func() bool { return len(read(webhooks.Query{})) == 3 })

	v1 := "msg_" + id1 + "_v1_front_published"
	v2 := "msg_" + id1 + "_v2_front_updated"
	type want struct {
		id      string
		attempt int
		status  int
		outcome string
	}
	all := read(webhooks.Query{})
	for i, w := range []want{{v1, 1, 503, webhooks.Retrying}, {v1, 2, http.StatusNoContent, webhooks.Delivered}, {v2, 1, 422, webhooks.Failed}} {
		a := all[i]
		if a.WebhookID != w.id || a.Attempt != w.attempt || a.Status != w.status || a.Outcome != w.outcome || a.EventSeq == 0 || a.ArticleID != id1 ||
			a.At.Before(began) || a.LatencyMS <= 0 || (a.Outcome == webhooks.Delivered) != (a.Error == "") || (a.Outcome == webhooks.Retrying) != (a.NextRetry != nil) {
			t.Errorf("attempt %d: %+v; want %+v", i, a, w)
		}
	}
	if got := read(webhooks.Query{WebhookID: v1}); len(got) != 2 {
		t.Errorf("v1's attempts: %d, want 2", len(got))
	}
	if got := read(webhooks.Query{After: all[1].Seq}); len(got) != 1 || got[0].WebhookID != v2 {
		t.Errorf("after the second: %+v, want v2's only", got)
	}
	if got := read(webhooks.Query{Since: time.Now().Add(time.Minute)}); len(got) != 0 {
		t.Errorf("since a minute from now: %d attempts", len(got))
	}
	if got := read(webhooks.Query{Since: began, Until: between}); len(got) != 2 || got[1].WebhookID != v1 {
		t.Errorf("recorded before v2 was sent: %+v, want v1's two", got)
	}
	if got := read(webhooks.Query{Since: between}); len(got) != 1 || got[0].WebhookID != v2 {
		t.Errorf("recorded after v2 was sent: %+v, want v2's", got)
	}
	page, more, err := f.log.Attempts(context.Background(), webhooks.Query{Subscriber: "logged", Limit: 2})
	if err != nil || len(page) != 2 || !more {
		t.Errorf("a page of 2: %d, more %v, %v", len(page), more, err)
	}

	// What failed in the range is v2 alone; redelivered, it arrives.
	failed := webhooks.FailedEvents(all)
	if len(failed) != 1 || failed[0] != all[2].EventSeq {
		t.Fatalf("failed events %v, want v2's %d", failed, all[2].EventSeq)
	}
	refuse.Store(false)
	if err := f.bus.Redeliver(context.Background(), failed[0], layout.WebhookSubject("logged"), "redeliver/test"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the redelivery", 20*time.Second, func() bool { return len(rec.got()) == 2 })
	if got := rec.got()[1]; got.id != v2 {
		t.Errorf("redelivered %s, want %s", got.id, v2)
	}
	testenv.WaitFor(t, "the redelivery recorded", 20*time.Second, func() bool {
		got := read(webhooks.Query{WebhookID: v2})
		return len(got) == 2 && got[1].Outcome == webhooks.Delivered
	})
	if err := f.bus.Redeliver(context.Background(), 1<<40, layout.WebhookSubject("logged"), "redeliver/none"); !errors.Is(err, bus.ErrNoSiteEvent) {
		t.Errorf("redeliver a sequence never stored: %v, want ErrNoSiteEvent", err)
	}
}

// TestWebhookTestEvent: a test event is signed like any, tried once
// whatever the answer, and recorded; a failed test is no dead letter.
func TestWebhookTestEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  int
		outcome string
	}{
		{"taken", http.StatusNoContent, webhooks.Delivered},
		{"refused", http.StatusServiceUnavailable, webhooks.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := newReceiver(t)
			rec.script = func(_ int, w http.ResponseWriter) bool {
				if tc.answer >= 300 {
					w.WriteHeader(tc.answer)
					return false
				}
				return true
			}
			f.start(t, rec.hook("tested"))
			const id = "msg_test_01KB00000000000000000000TT"
			if err := f.bus.SendWebhookTest(context.Background(), layout.WebhookSubject("tested"), id); err != nil {
				t.Fatal(err)
			}
			var got []webhooks.Attempt
			testenv.WaitFor(t, "the test recorded", 10*time.Second, func() bool {
				got, _, _ = f.log.Attempts(context.Background(), webhooks.Query{Subscriber: "tested", WebhookID: id, Limit: 10})
				return len(got) > 0
			})
			time.Sleep(300 * time.Millisecond) // time for a retry, were there one
			all := rec.all()
			if len(all) != 1 || all[0].id != id || all[0].body.Type != webhook.TestType || all[0].body.Kind() != "" {
				t.Fatalf("the receiver got %+v; want one test event %s", all, id)
			}
			if got[0].Outcome != tc.outcome || got[0].Event != "test" || got[0].Attempt != 1 {
				t.Errorf("recorded %+v, want outcome %s", got[0], tc.outcome)
			}
			if dl := f.deadLetters(t); len(dl) != 0 {
				t.Errorf("%d dead letters for a test", len(dl))
			}
		})
	}
}

// TestWebhookOnItsSchedule: a subscriber with a retry schedule is tried
// once, then once after each wait, then gives up with a dead letter; the
// log shows each retry and when the next was due.
func TestWebhookOnItsSchedule(t *testing.T) {
	f := newFixture(t)
	rec := newReceiver(t)
	rec.script = func(_ int, w http.ResponseWriter) bool { w.WriteHeader(http.StatusBadGateway); return false }
	hook := rec.hook("scheduled")
	hook.Deadline, hook.MinBackoff, hook.MaxBackoff = 0, 0, 0
	hook.Schedule = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}
	f.start(t, hook)
	f.send(t, id1, 1, "front", events.Published)
	testenv.WaitFor(t, "the dead letter", 10*time.Second, func() bool { return len(f.deadLetters(t)) == 1 })
	all := rec.all()
	if len(all) != 3 {
		t.Fatalf("%d attempts, want 3: the first and one after each wait", len(all))
	}
	for i, wait := range hook.Schedule {
		if gap := all[i+1].at.Sub(all[i].at); gap < wait {
			t.Errorf("retry %d came after %s, before its wait of %s", i+1, gap, wait)
		}
	}
	var got []webhooks.Attempt
	testenv.WaitFor(t, "three attempts recorded", 10*time.Second, func() bool {
		got, _, _ = f.log.Attempts(context.Background(), webhooks.Query{Subscriber: "scheduled", Limit: 10})
		return len(got) == 3
	})
	for i, want := range []string{webhooks.Retrying, webhooks.Retrying, webhooks.Failed} {
		if got[i].Outcome != want || got[i].Status != http.StatusBadGateway || (want == webhooks.Retrying) != (got[i].NextRetry != nil) {
			t.Errorf("attempt %d: %+v, want %s", i+1, got[i], want)
		}
	}
	if next := got[0].NextRetry; next != nil && next.Sub(got[0].At) < hook.Schedule[0] {
		t.Errorf("the first retry was due %s after the attempt, before its wait", next.Sub(got[0].At))
	}
}
