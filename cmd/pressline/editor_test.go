package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestEditorPage drives the editors' page in real headless Chromium: an
// editor pastes the sample, submits it, watches the stages, and gets the
// link to the published page; the page logs no error.
func TestEditorPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: make deps installs it (Debian package chromium)")
	}
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.start(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	// Listening first opens the tab, so errors of the page's first load
	// are heard too.
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console error")
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The first call starts the browser: no timeout on it, or the timeout
	// would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+e.cfg.HTTPAddr+"/")); err != nil {
		t.Fatalf("browser: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible("#submit-form"),
		chromedp.SendKeys("#token", testToken),
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
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors: %v", problems)
	}
}
