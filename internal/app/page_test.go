package app_test

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

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/services/publish"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
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
	e := newEnv(t)
	e.Config.SiteURL = siteURL
	srv := &http.Server{Handler: publish.SiteHandler(e.S3, slog.New(slog.DiscardHandler)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	e.Start(t)
	id := submitSampleWithPhotos(t, e)
	rich, err := os.ReadFile("testdata/rich.html")
	if err != nil {
		t.Fatal(err)
	}
	richID := submitAs(t, e, rich, "text/html; charset=utf-8", client.HeaderContentLocation, "https://news.example/port/cranes")
	testenv.WaitFor(t, "published", 30*time.Second, func() bool {
		p := e.Published(t)
		return len(p[id]) == 2 && len(p[richID]) == 2
	})
	page := e.Published(t)[id][0].Url
	home := siteURL + "/" + e.Published(t)[id][0].Site + "/"
	testenv.WaitFor(t, "the site's home page", 10*time.Second, func() bool { return strings.Contains(apptest.TryGet(home), strings.ToLower(id)) })

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
	var doc struct {
		Type     string   `json:"@type"`
		Headline string   `json:"headline"`
		Image    []string `json:"image"`
	}
	if err := json.Unmarshal([]byte(ld), &doc); err != nil || doc.Type != "NewsArticle" || doc.Headline != "Xây dựng tổ chức Đảng trong sạch, vững mạnh" {
		t.Errorf("JSON-LD %s: %v", ld, err)
	}
	checkCrops(t, tctx, doc.Image)
	checkRichPage(t, tctx, e.Published(t)[richID][0].Url)
	if p := problems(); len(p) > 0 {
		t.Errorf("the pages logged errors: %v", p)
	}
	// The page's own policy stops a script that an escaping bug would
	// let into it (checked after the errors: the refusal logs one).
	ran, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`(() => {
		const s = document.createElement("script"); s.textContent = "window.__injected = true";
		document.body.appendChild(s); return window.__injected === true; })()`))
	if err != nil || ran {
		t.Errorf("an inline script ran on the published page (%v): no Content-Security-Policy in force", err)
	}
}

// checkCrops loads the JSON-LD's images in the browser: the lead photo's
// 16:9, 4:3 and 1:1 crops, each at least 50,000 pixels.
func checkCrops(t *testing.T, ctx context.Context, urls []string) {
	t.Helper()
	if len(urls) != 3 {
		t.Fatalf("JSON-LD images %v, want the three crops", urls)
	}
	sizes, err := chromedp.Run(ctx, chromedp.Evaluate[[][2]int](`Promise.all(`+mustJSON(urls)+`.map(u => new Promise(r => {
		const i = new Image(); i.onload = () => r([i.naturalWidth, i.naturalHeight]); i.onerror = () => r([0, 0]); i.src = u; })))`,
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for i, aspect := range [][2]int{{16, 9}, {4, 3}, {1, 1}} {
		w, h := sizes[i][0], sizes[i][1]
		if w*h < 50_000 || abs(w*aspect[1]-h*aspect[0]) > aspect[0] {
			t.Errorf("crop %s is %d×%d, want %d:%d and at least 50,000 pixels", urls[i], w, h, aspect[0], aspect[1])
		}
	}
}

func abs(v int) int { return max(v, -v) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// richPage is what a reader of testdata/rich.html's page meets, as the
// browser lays it out.
type richPage struct {
	// Links are the body's links that the reader can click: shown, and
	// the topmost element at their centre.
	Links     map[string]string `json:"links"` // href → rel
	Items     int               `json:"items"`
	Headers   []string          `json:"headers"`
	Rows      int               `json:"rows"`
	Caption   string            `json:"caption"`
	Quote     string            `json:"quote"`
	Code      string            `json:"code"`
	Embed     string            `json:"embed"`
	Frames    int               `json:"frames"`
	Hidden    []string          `json:"hidden"`
	Resources []string          `json:"resources"`
}

const readRichPage = `(() => {
	const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
	const out = {links: {}, hidden: [], resources: performance.getEntriesByType("resource").map(e => e.name)};
	for (const a of document.querySelectorAll("article a[href]")) {
		a.scrollIntoView({block: "center"});
		const r = a.getBoundingClientRect();
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (shown(a) && (top === a || a.contains(top))) out.links[a.href] = a.rel;
	}
	const blocks = {list: "article ul", table: "article table", quote: "article blockquote", code: "article pre", embed: "article .embed-card"};
	for (const [name, sel] of Object.entries(blocks)) {
		const el = document.querySelector(sel);
		if (!el || !shown(el)) out.hidden.push(name);
	}
	out.items = document.querySelectorAll("article ul > li").length;
	out.headers = [...document.querySelectorAll("article table th")].map(th => th.textContent);
	out.rows = document.querySelectorAll("article table tbody tr").length;
	out.caption = document.querySelector("article table caption")?.textContent ?? "";
	out.quote = document.querySelector("article blockquote footer")?.textContent ?? "";
	out.code = document.querySelector("article pre")?.textContent ?? "";
	out.embed = document.querySelector("article .embed-card")?.href ?? "";
	out.frames = document.querySelectorAll("iframe").length;
	return out;
})()`

// checkRichPage opens the page of testdata/rich.html: its links are
// clickable where the newsroom put them (a relative one resolved against
// the Content-Location it was sent with), its list, table, quote, code
// and embed card are shown, and the page asks nothing of another site.
func checkRichPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("article")); err != nil {
		t.Fatalf("browser: %s: %v", url, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[richPage](readRichPage, chromedp.EvalAsValue))
	if err != nil {
		t.Fatalf("browser: %s: %v", url, err)
	}
	for href, rel := range map[string]string{
		"https://www.portofrotterdam.com/en/news": "noopener",
		"https://news.example/port/schedule":      "noopener",
		"https://vimeo.com/76979871":              "noopener",
	} {
		if r, ok := got.Links[href]; !ok || !strings.Contains(r, rel) {
			t.Errorf("link %s: clickable %v, rel %q; want clickable, rel %q (clickable links: %v)", href, ok, r, rel, got.Links)
		}
	}
	if len(got.Hidden) > 0 {
		t.Errorf("not shown: %v", got.Hidden)
	}
	if got.Items != 2 || got.Rows != 2 || strings.Join(got.Headers, "|") != "Year|East quay|Whole port" ||
		got.Caption != "Containers handled (TEU, millions)" {
		t.Errorf("list items %d, table %q, %d rows, caption %q", got.Items, got.Headers, got.Rows, got.Caption)
	}
	if !strings.Contains(got.Quote, "Anna de Vries") || got.Code != "berth 7: 06:00–22:00\nberth 8: 24 hours" {
		t.Errorf("quote attribution %q, code %q", got.Quote, got.Code)
	}
	if got.Embed != "https://vimeo.com/76979871" || got.Frames != 0 {
		t.Errorf("embed card links to %q with %d frames on the page; want the video's page and no frame", got.Embed, got.Frames)
	}
	site := url[:strings.Index(url, "/articles/")]
	site = site[:strings.LastIndex(site, "/")]
	for _, r := range got.Resources {
		if !strings.HasPrefix(r, site+"/") {
			t.Errorf("the page asked another site for %s", r)
		}
	}
}
