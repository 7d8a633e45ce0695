package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/feeds"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
	"github.com/pressline/pressline/pkg/events"
)

// raceCase is one article of the race battery.
type raceCase struct {
	kind string // correct, withdraw or correct-withdraw
	i    int
	id   string
	// sites the article should end on, for a correction; none for a
	// withdrawal.
	final []string
}

// TestWithdrawalAndCorrectionRaces is the race battery: 120 articles,
// each followed closely by a correction (0–145 ms later, every other one
// dropping a site), a withdrawal (0–290 ms later), both one after the
// other, or both at the same moment. At the end
// no withdrawn article has a page, a ninjs document or a feed entry on
// any site; downstream heard of each in order (published, then updated,
// withdrawn last); a site a correction dropped has its page taken down
// and heard withdrawn last.
//
// It runs on one server, and on a three-node cluster (R3) with two
// processes of each stage, so that an article's version and
// its withdrawal are often handled by different publish processes.
func TestWithdrawalAndCorrectionRaces(t *testing.T) {
	sites := []string{"front", "regional"}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *apptest.Env
	}{
		{"one server", func(t *testing.T) *apptest.Env {
			e := apptest.New(t, sites, 2)
			e.Start(t)
			return e
		}},
		{"R3 cluster, two processes", func(t *testing.T) *apptest.Env {
			e := apptest.NewCluster(t, sites, 2)
			e.Start(t)
			e.StartMore(t, []string{"clean", "imageproc", "publish"})
			return e
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.start(t)
			checkRaces(t, e, e.API(), fireRaces(t, e.API(), "battery", 30, false), false)
		})
	}
}

// fireRaces sends n articles of each kind of the battery, four at a time,
// with External-Ids of their own under tag (a second battery on the same
// servers must not correct the first one's articles).
// underFaults, a refused first version drops its case (the sender was
// told), and a refused correction or withdrawal is sent again, as a
// newsroom would: both are idempotent.
func fireRaces(t *testing.T, api *client.Client, tag string, n int, underFaults bool) []*raceCase {
	ctx := context.Background()
	both := []string{"front", "regional"}
	// Under faults a refused correction or withdrawal is sent again for
	// up to 150 s: an accepted article whose event was lost in a fault is
	// answered 503 not-yet-recorded until the reconciler (one minute,
	// plus its grace) sends the event again.
	again := func(send func() error) error {
		err := send()
		for deadline := time.Now().Add(150 * time.Second); underFaults && err != nil && time.Now().Before(deadline); {
			wait := 500 * time.Millisecond
			var p *client.Problem
			if errors.As(err, &p) {
				if p.Status < 500 {
					return err
				}
				wait = max(wait, p.RetryAfter)
			}
			time.Sleep(wait)
			err = send()
		}
		return err
	}
	var cases []*raceCase
	for i := range n {
		for _, kind := range []string{"correct", "withdraw", "correct-withdraw", "at-once"} {
			cases = append(cases, &raceCase{kind: kind, i: i})
		}
	}
	// A few at a time, so the pipeline is not queued for seconds: the
	// delays must straddle the moment version 1 goes out.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, c := range cases {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ext := fmt.Sprintf("race-%s-%s-%d", tag, c.kind, c.i)
			version := func(v int, sites []string) client.Submission {
				// One Idempotency-Key per version: a correction sent again
				// after an answer lost in a fault is the same version.
				return client.Submission{ContentType: "text/plain; charset=utf-8", ExternalID: ext, Sites: sites, IdempotencyKey: fmt.Sprintf("%s-v%d", ext, v),
					Body: fmt.Appendf(nil, "Bài %s số %d, bản %d\n\nNội dung của bản %d, đủ dài để là một bài báo về cuộc đua.\n", c.kind, c.i, v, v)}
			}
			acc, err := api.Submit(ctx, version(1, both))
			if err != nil {
				if !underFaults {
					t.Errorf("%s %d: submit: %v", c.kind, c.i, err)
				}
				return // refused: not accepted, so nothing to check
			}
			c.id = acc.ID
			switch c.kind {
			case "correct":
				time.Sleep(time.Duration(c.i*5) * time.Millisecond)
				c.final = both
				if c.i%2 == 1 {
					c.final = []string{"front"}
				}
				err = again(func() error { _, err := api.Submit(ctx, version(2, c.final)); return err })
			case "withdraw":
				time.Sleep(time.Duration(c.i*10) * time.Millisecond)
				err = again(func() error { _, err := api.Withdraw(ctx, c.id, "race battery"); return err })
			case "at-once":
				// A correction and a withdrawal at the same moment: they
				// never share a version, and the correction is either
				// before the withdrawal or refused.
				time.Sleep(time.Duration(c.i*5) * time.Millisecond)
				var cerr error
				var inner sync.WaitGroup
				inner.Go(func() { cerr = again(func() error { _, err := api.Submit(ctx, version(2, both)); return err }) })
				err = again(func() error { _, err := api.Withdraw(ctx, c.id, "race battery"); return err })
				inner.Wait()
				var p *client.Problem
				if cerr != nil && !(errors.As(cerr, &p) && p.Type == client.ProblemTypePrefix+"article-withdrawn") {
					err = errors.Join(err, fmt.Errorf("correction: %w", cerr))
				}
			case "correct-withdraw":
				time.Sleep(time.Duration(c.i*3) * time.Millisecond)
				if err = again(func() error { _, err := api.Submit(ctx, version(2, both)); return err }); err == nil {
					time.Sleep(time.Duration(c.i*3) * time.Millisecond)
					err = again(func() error { _, err := api.Withdraw(ctx, c.id, "race battery"); return err })
				}
			}
			if err != nil {
				t.Errorf("%s %d: %v", c.kind, c.i, err)
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(cases, func(c *raceCase) bool { return c.id == "" })
}

// checkRaces waits until every case has settled and checks the
// battery's promises on e's servers, asking api. underFaults says other
// articles went through too (so only the absence of the withdrawn ones
// from the feeds is checked), and a correction may end on a later
// version than 2: a correction whose answer was lost in a fault may have
// taken a version number before it failed, and is sent again as the next
// one.
func checkRaces(t *testing.T, e *apptest.Env, api *client.Client, cases []*raceCase, underFaults bool) {
	correctedAt := func(v uint32) bool { return v == 2 || (underFaults && v > 2) }
	if t.Failed() {
		return
	}
	ctx := context.Background()
	both := []string{"front", "regional"}
	var waiting string
	settled := func() bool {
		for _, c := range cases {
			st, err := api.Status(ctx, c.id)
			if err != nil {
				waiting = fmt.Sprintf("%s %d (%s): %v", c.kind, c.i, c.id, err)
				return false
			}
			want := status.Withdrawn
			if c.final != nil {
				want = status.Published
			}
			if st.GetState() != want || (c.final != nil && !correctedAt(st.GetArticle().GetVersion())) {
				waiting = fmt.Sprintf("%s %d (%s): %s at version %d, want %s", c.kind, c.i, c.id, st.GetState(), st.GetArticle().GetVersion(), want)
				return false
			}
		}
		return true
	}
	func() {
		defer func() {
			if t.Failed() {
				t.Logf("the last article waited for: %s", waiting)
			}
		}()
		testenv.WaitFor(t, "every article settled", 2*time.Minute, settled)
	}()
	// The sites' feeds are rewritten a moment after the last change.
	var stale string
	caughtUp := func() bool {
		for _, site := range both {
			feed, err := e.S3.Get(ctx, layout.SiteFile(site, feeds.FileJSON))
			if err != nil {
				stale = err.Error()
				return false
			}
			for _, c := range cases {
				in := strings.Contains(strings.ToLower(string(feed)), strings.ToLower(c.id))
				want := c.final != nil && slices.Contains(c.final, site)
				if want && !in && underFaults {
					continue // newer articles may have pushed it off the feed
				}
				if in != want {
					stale = fmt.Sprintf("%s %d (%s) in the %s feed: %v, want %v", c.kind, c.i, c.id, site, in, want)
					return false
				}
			}
		}
		return true
	}
	func() {
		defer func() {
			if t.Failed() {
				t.Logf("the last feed read: %s", stale)
			}
		}()
		testenv.WaitFor(t, "the feeds caught up", 30*time.Second, caughtUp)
	}()

	pubs := e.Published(t)
	for _, c := range cases {
		name := fmt.Sprintf("%s %d (%s)", c.kind, c.i, c.id)
		bySite := map[string][]events.Kind{}
		versions := map[string]uint32{}
		for _, ev := range pubs[c.id] {
			k := events.KindOf(ev.GetKind())
			bySite[ev.GetSite()] = append(bySite[ev.GetSite()], k)
			if v := ev.GetArticle().GetVersion(); v < versions[ev.GetSite()] {
				t.Errorf("%s: on %s, version %d came after version %d", name, ev.GetSite(), v, versions[ev.GetSite()])
			} else {
				versions[ev.GetSite()] = v
			}
			live := c.final != nil && slices.Contains(c.final, ev.GetSite())
			for _, key := range []string{ev.GetHtmlKey(), ev.GetNinjsKey()} {
				if key == "" {
					continue
				}
				_, err := e.S3.Get(ctx, key)
				if online := err == nil; online != live {
					t.Errorf("%s: %s online %v, want %v (%v)", name, key, online, live, err)
				} else if !live && !errors.Is(err, blob.ErrNotFound) {
					t.Errorf("%s: %s: %v", name, key, err)
				}
			}
		}
		for site, kinds := range bySite {
			last := kinds[len(kinds)-1]
			live := c.final != nil && slices.Contains(c.final, site)
			switch {
			case kinds[0] != events.Published:
				t.Errorf("%s: on %s the first event is %s: %v", name, site, kinds[0], kinds)
			case live && last == events.Withdrawn, !live && last != events.Withdrawn:
				t.Errorf("%s: on %s the events are %v, live %v", name, site, kinds, live)
			}
			for j, k := range kinds {
				if k == events.Withdrawn && j != len(kinds)-1 {
					t.Errorf("%s: on %s something came after withdrawn: %v", name, site, kinds)
				}
				if j > 0 && k == events.Published {
					t.Errorf("%s: on %s a correction was sent as published: %v", name, site, kinds)
				}
			}
		}
		if c.final != nil {
			for _, site := range c.final {
				if len(bySite[site]) == 0 || !correctedAt(versions[site]) {
					t.Errorf("%s: %s heard %v, last version %d; want version 2 published", name, site, bySite[site], versions[site])
				}
			}
		}
	}
}
