package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pressline/pressline/services/publish"
)

// TestPublishedPageInBrowser opens a published article with photos, and
// its site's home page, in real headless Chromium served as `pressline
// dev` serves them: the pages render, every image loads, the JSON-LD
// parses, and nothing is logged as an error.
func TestPublishedPageInBrowser(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	siteURL := "http://" + ln.Addr().String()
	e := newEnv(t, "--site-url="+siteURL)
	srv := &http.Server{Handler: publish.SiteHandler(e.s3, slog.New(slog.DiscardHandler)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	e.start(t)

	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	ct, body, err := multipartBody(sample, "text/plain; charset=utf-8",
		[]string{"../../pkg/imaging/testdata/iptc.jpg", "../../pkg/imaging/testdata/photo.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	id := e.submitAs(t, body, ct)
	waitFor(t, "published", 30*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	page := e.published(t)[id][0].Url
	home := siteURL + "/" + e.published(t)[id][0].Site + "/"
	waitFor(t, "the site's home page", 10*time.Second, func() bool { return strings.Contains(tryGet(home), strings.ToLower(id)) })

	ctx, problems := browser(t, page)
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, u := range []string{page, home} {
		if err := chromedp.Do(tctx, chromedp.Navigate(u), chromedp.WaitReady("body")); err != nil {
			t.Fatalf("browser: %s: %v", u, err)
		}
		// Lazy images load as they are scrolled to: scroll through, then
		// wait for every image to finish.
		const loaded = `(async () => {
			for (const img of document.images) { img.loading = "eager"; img.scrollIntoView(); }
			await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
			return [...document.images].map(i => ({src: i.currentSrc, w: i.naturalWidth}));
		})()`
		imgs, err := chromedp.Run(tctx, chromedp.Evaluate[[]struct {
			Src string `json:"src"`
			W   int    `json:"w"`
		}](loaded, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("browser: %s: %v", u, err)
		}
		if want := map[string]int{page: 2, home: 1}[u]; len(imgs) < want {
			t.Errorf("%s shows %d images, want at least %d", u, len(imgs), want)
		}
		for _, img := range imgs {
			if img.W == 0 {
				t.Errorf("%s: image %s did not load", u, img.Src)
			}
		}
		if dir := os.Getenv("PRESSLINE_SCREENSHOTS"); dir != "" {
			name := "article.png"
			if u == home {
				name = "home.png"
			}
			png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
			}
			if err != nil {
				t.Errorf("screenshot: %v", err)
			}
		}
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	ld, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector('script[type="application/ld+json"]').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(ld), &doc); err != nil || doc["@type"] != "NewsArticle" || doc["headline"] != "Xây dựng tổ chức Đảng trong sạch, vững mạnh" {
		t.Errorf("JSON-LD %s: %v", ld, err)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the pages logged errors: %v", p)
	}
}
