package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/webhook"
)

// TestConsole drives the console in real headless Chromium, with the
// keyboard where an editor would type: a newsroom signs in once, submits
// the sample with a photo and follows it to publication, finds it in the
// list by its title, opens it (timeline, trace, warnings), sends a
// correction under its External-Id and sees version 2 published, and
// withdraws it with a reason; an operator sees the webhook subscriber,
// sends it a test and reads the attempt. The tokens stay in
// sessionStorage, and the page logs no error, at desktop and phone width.
func TestConsole(t *testing.T) {
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	photo, err := filepath.Abs("../imaging/testdata/photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	var received atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	// A receiver that refuses every event for good: its dead letters are
	// what the operator's view shows.
	var refusing atomic.Bool
	var refused atomic.Int32 // requests to it, refused or taken
	refusing.Store(true)
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		if refusing.Load() {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
	}))
	t.Cleanup(refuser.Close)
	const operator = "operator-token-for-the-console"
	e := newEnv(t)
	e.Config.Operators = []config.Operator{{TokenHash: config.HashToken(operator)}}
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	e.Config.Webhooks = []config.Webhook{{Name: "partner", URL: receiver.URL, Secret: secret, Sites: []string{"front"},
		Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second},
		{Name: "refuser", URL: refuser.URL, Secret: secret, Sites: []string{"front"}, Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	e.Start(t)

	ctx, problems := browser(t, "http://"+e.Config.HTTPAddr+"/")
	tctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTimeout()
	began := time.Now()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		defer func() { t.Logf("%5.1f s: %s", time.Since(began).Seconds(), what) }()
		if err := chromedp.Do(tctx, actions...); err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Text("#message"))
			shot(t, ctx, "console-failed")
			t.Fatalf("%s: %v (the page says %q)", what, err, msg)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	waitText := func(what, sel, want string) {
		t.Helper()
		_, err := chromedp.Run(tctx, chromedp.Poll[bool](fmt.Sprintf(`(document.querySelector(%q)||{textContent:""}).textContent.includes(%q)`, sel, want),
			chromedp.WithPollingTimeout(90*time.Second)))
		if err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Text("#message"))
			shot(t, ctx, "console-failed")
			t.Fatalf("%s: %v (the page says %q)", what, err, msg)
		}
	}

	step("sign in with the keyboard",
		chromedp.WaitVisible("#signin-form"),
		chromedp.Focus("#token"), chromedp.SendKeys("#token", apptest.Token),
		chromedp.SendKeys("#operator-token", operator),
		chromedp.SendKeys("#operator-token", kb.Enter),
		chromedp.WaitVisible("#view-articles"))
	step("submit the sample with a photo",
		chromedp.Click(`a[href="#/submit"]`), chromedp.WaitVisible("#submit-form"),
		chromedp.SetValue("#article", string(sample)),
		chromedp.SetUploadFiles("#images", []string{photo}),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#published a"))
	steps := text("#steps")
	for _, want := range []string{"ingest received", "clean cleaned", "imageproc media_ready", "publish published"} {
		if !strings.Contains(steps, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, steps)
		}
	}
	shot(t, tctx, "console-submitted")

	step("find it by its title",
		chromedp.Click(`a[href="#/articles"]`), chromedp.WaitVisible("#filter-form"),
		chromedp.SendKeys("#filter-q", "đảng"), chromedp.SetValue("#filter-state", "published"),
		chromedp.Click("#filter"))
	waitText("the list shows it", "#article-list", "published")
	shot(t, tctx, "console-list")
	step("open it", chromedp.Click("#article-list a"), chromedp.WaitVisible("#view-article"))
	waitText("its timeline", "#a-timeline", "publish published")
	if title, trace := text("#a-title"), text("#a-trace"); title == "" || len(trace) != 32 {
		t.Errorf("the article shows title %q, trace %q", title, trace)
	}
	if ext := text("#a-external"); !strings.HasPrefix(ext, "console-") {
		t.Errorf("External-Id %q, want the one the console made", ext)
	}
	shot(t, tctx, "console-article")

	step("send a correction",
		chromedp.SetValue("#correct-text", "Tin đã sửa\n\nĐoạn văn đã được sửa lại sau khi xuất bản, với con số đúng.\n"),
		chromedp.Click("#correct"))
	waitText("version 2 published", "#a-timeline", "publish published (version 2)")
	if v := text("#a-version"); v != "2" {
		t.Errorf("version %q after the correction, want 2", v)
	}
	step("compare the versions", chromedp.WaitVisible("#diff-form"), chromedp.Click("#diff"))
	waitText("the diff", "#diff-out", "+ Đoạn văn đã được sửa lại")
	if diff := text("#diff-out"); !strings.Contains(diff, "- ") || !strings.Contains(diff, "+ # Tin đã sửa") {
		t.Errorf("the diff of versions 1 and 2 lacks removed lines or the new title:\n%.500s", diff)
	}
	step("preview version 2", chromedp.Click(`#versions button.preview[data-version="2"]`), chromedp.WaitVisible("#preview"))
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`(document.querySelector("#preview").contentDocument||{body:{innerText:""}}).body.innerText.includes("Tin đã sửa")`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the preview frame does not show version 2 (%v)", err)
	}
	shot(t, tctx, "console-versions")
	if dir := os.Getenv("PRESSLINE_SCREENSHOTS"); dir != "" {
		if png, err := chromedp.Run(tctx, chromedp.Screenshot("#preview")); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "console-preview.png"), png, 0o644)
		}
	}
	step("withdraw it",
		chromedp.SendKeys("#withdraw-reason", "legal request"),
		chromedp.Click("#withdraw"))
	waitText("withdrawn", "#a-state", "withdrawn")

	// An embargoed article is held; a correction without an embargo
	// lifts it.
	step("submit under embargo",
		chromedp.Click(`a[href="#/submit"]`), chromedp.WaitVisible("#submit-form"),
		chromedp.SetValue("#article", "Tin giữ lại\n\nBài này chỉ được đăng sau giờ cấm vận, khi có thông báo chính thức.\n"),
		chromedp.SetValue("#embargo", time.Now().Add(2*time.Hour).Format("2006-01-02T15:04")),
		chromedp.Click("#submit"))
	waitText("held", "#steps", "publish embargoed")
	step("open it", chromedp.Click("#article-id"), chromedp.WaitVisible("#view-article"))
	waitText("shown as embargoed", "#a-state", "embargoed")
	step("lift the embargo with a correction",
		chromedp.SetValue("#correct-text", "Tin giữ lại\n\nBài này được đăng ngay, vì thông báo đã có.\n"),
		chromedp.Click("#correct"))
	waitText("published at once", "#a-state", "published")

	step("the webhook subscribers", chromedp.Click("#nav-operators"), chromedp.WaitVisible("#view-operators"))
	waitText("the subscriber listed", "#webhook-list", "partner")
	step("the refuser's dead letters", chromedp.SetValue("#dl-stage", "webhook-refuser"), chromedp.Click("#dl-show"))
	waitText("a dead letter listed", "#deadletter-list", "webhook-refuser")
	if dl := text("#deadletter-list"); !strings.Contains(dl, "webhook-refuser") || !strings.Contains(dl, "permanent") {
		t.Errorf("the dead letters shown: %s", dl)
	}
	// The refuser takes events from now on; its dead letters, replayed,
	// reach it.
	refusing.Store(false)
	step("replay one", chromedp.Click("#deadletter-list button.replay"))
	waitText("replayed", "#message", "1 dead letter(s) replayed")
	step("replay the rest", chromedp.Click("#dl-replay-all"))
	waitText("the rest replayed", "#message", "dead letter(s) replayed")
	waitText("none left", "#deadletter-list", "No dead letter.")
	// Four events were refused (the first article's three, the second's
	// publication); the four replayed come again.
	testenv.WaitFor(t, "the replayed events delivered", 10*time.Second, func() bool { return refused.Load() >= 8 })
	step("send a test", chromedp.Click(`#webhook-list tr:first-child button:nth-of-type(2)`))
	waitText("the test's attempt", "#attempt-list", "msg_test_")
	waitText("the article's deliveries", "#attempt-list", "delivered")
	shot(t, tctx, "console-webhooks")

	// At phone width the page still fits and works.
	step("phone width", chromedp.EmulateViewport(390, 844), chromedp.Click(`a[href="#/articles"]`), chromedp.WaitVisible("#article-list tr"))
	if wide, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || wide {
		t.Errorf("at 390 px the page scrolls sideways (%v)", err)
	}
	shot(t, tctx, "console-phone")

	kept, err := chromedp.Run(tctx, chromedp.Evaluate[[]any](`[localStorage.getItem("pressline-token"), sessionStorage.getItem("pressline-token"), sessionStorage.getItem("pressline-operator-token"), location.href]`))
	if err != nil || len(kept) != 4 || kept[0] != nil || kept[1] != apptest.Token || kept[2] != operator || strings.Contains(kept[3].(string), "token") {
		t.Errorf("token in localStorage, sessionStorage, the address: %v (%v)", kept, err)
	}
	if received.Load() < 3 {
		t.Errorf("the receiver got %d requests, want the test and the article's events", received.Load())
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors: %v", p)
	}
}

// shot saves a screenshot to $PRESSLINE_SCREENSHOTS, when it is set, for
// a person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PRESSLINE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 makes a PNG
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// browser starts headless Chromium on url, as the environment notes say
// it must run here, and collects what the page logs as errors.
func browser(t *testing.T, url string) (ctx context.Context, problems func() []string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: make deps installs it (Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	var mu sync.Mutex
	var seen []string
	// Listening first opens the tab, so errors of the page's first load
	// are heard too.
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				seen = append(seen, "console error")
			}
		case *runtime.EventExceptionThrown:
			seen = append(seen, ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				seen = append(seen, ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The first navigation starts the browser: no timeout on it, or the
	// timeout would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browser: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
