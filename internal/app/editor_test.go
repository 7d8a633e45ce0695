package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pressline/pressline/internal/app/apptest"
)

// TestEditorPage drives the editors' page in real headless Chromium: an
// editor pastes the sample, submits it, watches the stages, and gets the
// link to the published page; the page logs no error.
func TestEditorPage(t *testing.T) {
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.Start(t)

	ctx, problems := browser(t, "http://"+e.Config.HTTPAddr+"/")
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible("#submit-form"),
		chromedp.SendKeys("#token", apptest.Token),
		chromedp.SetValue("#article", string(sample)),
		chromedp.Click("#submit"),
		chromedp.WaitVisible("#published a"),
	); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text("#message"))
		t.Fatalf("browser: %v (the page says %q)", err, msg)
	}
	href, err := chromedp.Run(tctx, chromedp.AttributeValue("#published a", "href"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := chromedp.Run(tctx, chromedp.Text("#steps"))
	if err != nil {
		t.Fatal(err)
	}
	link := href.Value
	if dir := os.Getenv("PRESSLINE_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "editor.png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	if !strings.HasPrefix(link, "http://news.test/") || !strings.Contains(link, "/articles/") {
		t.Errorf("published link %q", link)
	}
	for _, want := range []string{"ingest: received", "clean: cleaned", "imageproc: media_ready", "publish: published"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps shown lack %q:\n%s", want, steps)
		}
	}
	// The token is kept for the tab's session only, never in storage
	// that outlives it.
	kept, err := chromedp.Run(tctx, chromedp.Evaluate[[]any](`[localStorage.getItem("pressline-token"), sessionStorage.getItem("pressline-token")]`))
	if err != nil || len(kept) != 2 || kept[0] != nil || kept[1] != apptest.Token {
		t.Errorf("token in localStorage, sessionStorage: %v (%v)", kept, err)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors: %v", p)
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
