package cleaner

import (
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Embeds: a video or a post from another platform, recognised by the
// frame or the blockquote its platform's embed code writes, and kept as
// a link to it (provider, canonical URL, title, author, thumbnail), never
// as the platform's script.

var (
	reYouTubeID = regexp.MustCompile(`^/(?:embed|v|shorts)/([\w-]{6,20})`)
	reVimeoID   = regexp.MustCompile(`^/video/(\d+)`)
	reTikTokID  = regexp.MustCompile(`/(?:embed/v2|embed|video)/(\d{6,25})`)
	reInstaPath = regexp.MustCompile(`^/(p|reel|tv)/([\w-]+)`)
	reTweetPath = regexp.MustCompile(`^/([\w]{1,30})/status(?:es)?/(\d+)`)
	// "— Name (@handle) November 18, 2019", the line a tweet embed ends with.
	reTweetAuthor = regexp.MustCompile(`[—–-]\s*(.+?)\s*\(@\w+\)`)
)

// embedClass: an element a platform's embed code marks by its class.
func embedClass(n *html.Node) bool {
	c := " " + attr(n, "class") + " "
	for _, k := range []string{" twitter-tweet ", " twitter-video ", " instagram-media ", " tiktok-embed ", " fb-post ", " fb-video ", " fb-xfbml-parse-ignore "} {
		if strings.Contains(c, k) {
			return true
		}
	}
	return false
}

// embedOf is the embed an element stands for, or nil.
func embedOf(n *html.Node, base *url.URL) *pb.Embed {
	switch tagOf(n) {
	case atom.Iframe, atom.Embed:
		src := absoluteLink(first(attr(n, "src"), attr(n, "data-src")), base)
		if src == "" || strings.HasPrefix(src, "mailto:") {
			return nil
		}
		e := frameEmbed(src)
		if e.Title == "" {
			e.Title = normalize(attr(n, "title"))
		}
		return e
	}
	if !embedClass(n) {
		return nil
	}
	c := " " + attr(n, "class") + " "
	text, _ := inlineSpans(children(n), nil) // a space between its paragraphs
	switch {
	case strings.Contains(c, " twitter-tweet ") || strings.Contains(c, " twitter-video "):
		e := &pb.Embed{Provider: "x"}
		visit(n, func(a *html.Node) bool {
			if a.Type == html.ElementNode && tagOf(a) == atom.A {
				if u, err := url.Parse(attr(a, "href")); err == nil && isTwitterHost(u.Host) {
					if m := reTweetPath.FindStringSubmatch(u.Path); m != nil {
						e.Url = "https://x.com/" + m[1] + "/status/" + m[2]
					}
				}
			}
			return true
		})
		if e.Url == "" {
			return nil
		}
		if m := reTweetAuthor.FindStringSubmatch(text); m != nil {
			e.Author = m[1]
		}
		// The post's words, then its author and date, as the embed
		// showed them before its script ran.
		e.Text = text
		return e
	case strings.Contains(c, " instagram-media "):
		link := first(attr(n, "data-instgrm-permalink"), firstHref(n, "instagram.com"))
		u, err := url.Parse(link)
		if err != nil || !strings.HasSuffix(u.Host, "instagram.com") {
			return nil
		}
		m := reInstaPath.FindStringSubmatch(u.Path)
		if m == nil {
			return nil
		}
		return &pb.Embed{Provider: "instagram", Url: "https://www.instagram.com/" + m[1] + "/" + m[2] + "/", Text: text}
	case strings.Contains(c, " tiktok-embed "):
		link := first(attr(n, "cite"), firstHref(n, "tiktok.com"))
		if u, err := url.Parse(link); err == nil && strings.HasSuffix(u.Host, "tiktok.com") {
			return &pb.Embed{Provider: "tiktok", Url: "https://www.tiktok.com" + u.Path, Text: text}
		}
	case strings.Contains(c, " fb-post ") || strings.Contains(c, " fb-video ") || strings.Contains(c, " fb-xfbml-parse-ignore "):
		link := first(attr(n, "data-href"), attr(n, "cite"), firstHref(n, "facebook.com"))
		if u, err := url.Parse(link); err == nil && strings.HasSuffix(u.Host, "facebook.com") && (u.Scheme == "https" || u.Scheme == "http") {
			u.Scheme = "https"
			return &pb.Embed{Provider: "facebook", Url: u.String(), Text: text}
		}
	}
	return nil
}

func isTwitterHost(h string) bool {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "www."), "mobile.")
	return h == "twitter.com" || h == "x.com"
}

func firstHref(n *html.Node, host string) string {
	found := ""
	visit(n, func(a *html.Node) bool {
		if found == "" && a.Type == html.ElementNode && tagOf(a) == atom.A && strings.Contains(attr(a, "href"), host) {
			found = attr(a, "href")
		}
		return found == ""
	})
	return found
}

// frameEmbed is what an iframe's source shows: a known platform's video
// or post at its canonical URL, or any other frame by its URL.
func frameEmbed(src string) *pb.Embed {
	u, err := url.Parse(src)
	if err != nil {
		return &pb.Embed{Provider: "iframe", Url: src}
	}
	host := strings.TrimPrefix(strings.ToLower(u.Host), "www.")
	switch {
	case host == "youtube.com" || host == "youtube-nocookie.com" || host == "m.youtube.com":
		if m := reYouTubeID.FindStringSubmatch(u.Path); m != nil {
			return &pb.Embed{Provider: "youtube", Url: "https://www.youtube.com/watch?v=" + m[1], Thumbnail: "https://i.ytimg.com/vi/" + m[1] + "/hqdefault.jpg"}
		}
	case host == "player.vimeo.com":
		if m := reVimeoID.FindStringSubmatch(u.Path); m != nil {
			return &pb.Embed{Provider: "vimeo", Url: "https://vimeo.com/" + m[1]}
		}
	case host == "platform.twitter.com":
		if id := u.Query().Get("id"); id != "" {
			return &pb.Embed{Provider: "x", Url: "https://x.com/i/status/" + id}
		}
	case host == "instagram.com":
		if m := reInstaPath.FindStringSubmatch(u.Path); m != nil {
			return &pb.Embed{Provider: "instagram", Url: "https://www.instagram.com/" + m[1] + "/" + m[2] + "/"}
		}
	case host == "tiktok.com":
		if m := reTikTokID.FindStringSubmatch(u.Path); m != nil {
			return &pb.Embed{Provider: "tiktok", Url: "https://www.tiktok.com/embed/v2/" + m[1]}
		}
	case host == "facebook.com":
		if href := u.Query().Get("href"); href != "" {
			return &pb.Embed{Provider: "facebook", Url: href}
		}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return &pb.Embed{Provider: "iframe", Url: u.String()}
}
