// Package feeds renders what a site offers besides article pages: its
// index page, RSS 2.0, Atom, JSON Feed and Google News sitemap, all from
// one list of entries, newest first. Feed XML and JSON come from
// gorilla/feeds; the news sitemap, which it does not know, from
// encoding/xml.
package feeds

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
)

// Site is the site a feed belongs to.
type Site struct {
	Name     string // the site's key, as in pressline.site.<name>
	Title    string
	URL      string // home of the site, ending in "/"
	Language string // BCP 47, used where an entry has none
}

// Entry is one article as feeds list it.
type Entry struct {
	ID      string `json:"id"`
	Version uint32 `json:"version"`
	URL     string `json:"url"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"` // plain text
	// Content is the whole body as an HTML fragment, already sanitized
	// (render.BodyHTML), for feed readers that show articles in full.
	Content   string    `json:"content,omitempty"`
	Kicker    string    `json:"kicker,omitempty"`
	By        string    `json:"by,omitempty"`
	Language  string    `json:"language,omitempty"`
	Published time.Time `json:"published"` // first publication
	Updated   time.Time `json:"updated"`   // this version
	Image     *Image    `json:"image,omitempty"`
}

// Image is an entry's lead picture.
type Image struct {
	URL    string `json:"url"`
	Type   string `json:"type"`
	Width  int32  `json:"width"`
	Height int32  `json:"height"`
	Bytes  int64  `json:"bytes"`
	Alt    string `json:"alt,omitempty"`
}

// Files are the names under the site's prefix where each rendering goes.
const (
	FileIndex   = "index.html"
	FileRSS     = "rss.xml"
	FileAtom    = "atom.xml"
	FileJSON    = "feed.json"
	FileSitemap = "sitemap-news.xml"
)

// Rendered is one file of a site.
type Rendered struct {
	Name, ContentType string
	Data              []byte
}

// All renders every file of a site, given the time it is rendered at (the
// news sitemap lists the last two days only).
func All(site Site, entries []Entry, now time.Time) ([]Rendered, error) {
	f := feed(site, entries, now)
	rss, err := f.ToRss()
	if err != nil {
		return nil, fmt.Errorf("feeds %s: rss: %w", site.Name, err)
	}
	atom, err := f.ToAtom()
	if err != nil {
		return nil, fmt.Errorf("feeds %s: atom: %w", site.Name, err)
	}
	// JSON Feed's summary is plain text, as the entry's is; RSS and Atom
	// take HTML there (see feed), and so the escaped form.
	jfeed := (&feeds.JSON{Feed: f}).JSONFeed()
	for i, it := range jfeed.Items {
		it.Summary = entries[i].Summary
	}
	jf, err := jfeed.ToJSON()
	if err != nil {
		return nil, fmt.Errorf("feeds %s: json feed: %w", site.Name, err)
	}
	sm, err := NewsSitemap(site, entries, now)
	if err != nil {
		return nil, err
	}
	idx, err := Index(site, entries)
	if err != nil {
		return nil, err
	}
	return []Rendered{
		{FileIndex, "text/html; charset=utf-8", idx},
		{FileRSS, "application/rss+xml; charset=utf-8", []byte(rss + "\n")},
		{FileAtom, "application/atom+xml; charset=utf-8", []byte(atom + "\n")},
		{FileJSON, "application/feed+json; charset=utf-8", []byte(jf + "\n")},
		{FileSitemap, "application/xml; charset=utf-8", sm},
	}, nil
}

func feed(site Site, entries []Entry, now time.Time) *feeds.Feed {
	f := &feeds.Feed{
		Title:       site.Title,
		Link:        &feeds.Link{Href: site.URL},
		Description: site.Title,
		Id:          site.URL,
		Updated:     now.UTC(),
	}
	if len(entries) > 0 {
		f.Updated = latest(entries).UTC()
	}
	for _, e := range entries {
		it := &feeds.Item{
			Title:       e.Title,
			Link:        &feeds.Link{Href: e.URL},
			Id:          e.URL,
			IsPermaLink: "true",
			// RSS descriptions and Atom summaries (type="html") are read
			// as HTML: the plain summary goes in escaped, so that text
			// like "<img onerror=…>" stays text.
			Description: html.EscapeString(e.Summary),
			Content:     e.Content,
			Created:     e.Published.UTC(),
			Updated:     e.Updated.UTC(),
		}
		if e.By != "" {
			it.Author = &feeds.Author{Name: e.By}
		}
		if e.Image != nil {
			it.Enclosure = &feeds.Enclosure{Url: e.Image.URL, Type: e.Image.Type, Length: strconv.FormatInt(e.Image.Bytes, 10)}
		}
		f.Items = append(f.Items, it)
	}
	return f
}

func latest(entries []Entry) time.Time {
	var t time.Time
	for _, e := range entries {
		if e.Updated.After(t) {
			t = e.Updated
		}
	}
	return t
}

// NewsWindow is how far back a news sitemap reaches, per Google's rules.
const NewsWindow = 48 * time.Hour

type urlset struct {
	XMLName xml.Name     `xml:"urlset"`
	NS      string       `xml:"xmlns,attr"`
	NewsNS  string       `xml:"xmlns:news,attr"`
	URLs    []sitemapURL `xml:"url"`
}

type sitemapURL struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod"`
	News    struct {
		Publication struct {
			Name     string `xml:"news:name"`
			Language string `xml:"news:language"`
		} `xml:"news:publication"`
		Date  string `xml:"news:publication_date"`
		Title string `xml:"news:title"`
	} `xml:"news:news"`
}

// NewsSitemap renders a Google News sitemap of the entries first published
// within NewsWindow of now.
func NewsSitemap(site Site, entries []Entry, now time.Time) ([]byte, error) {
	set := urlset{NS: "http://www.sitemaps.org/schemas/sitemap/0.9", NewsNS: "http://www.google.com/schemas/sitemap-news/0.9"}
	for _, e := range entries {
		if now.Sub(e.Published) > NewsWindow {
			continue
		}
		u := sitemapURL{Loc: e.URL, LastMod: e.Updated.UTC().Format(time.RFC3339)}
		u.News.Publication.Name = site.Title
		u.News.Publication.Language = languageOf(e, site)
		u.News.Date = e.Published.UTC().Format(time.RFC3339)
		u.News.Title = e.Title
		set.URLs = append(set.URLs, u)
	}
	out, err := xml.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("feeds %s: sitemap: %w", site.Name, err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// languageOf is the ISO 639 code Google News wants: the primary subtag of
// the entry's language, else the site's, else "und" (undetermined).
func languageOf(e Entry, site Site) string {
	for _, l := range []string{e.Language, site.Language} {
		if l != "" {
			primary, _, _ := strings.Cut(l, "-")
			return strings.ToLower(primary)
		}
	}
	return "und"
}

//go:embed index.html
var indexHTML string

var indexTmpl = template.Must(template.New("index").Parse(indexHTML))

// indexStyle is the CSP source of the home page's one <style>.
var indexStyle = func() string {
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(indexHTML)
	sum := sha256.Sum256([]byte(m[1]))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// indexCSP is the home page's Content-Security-Policy, in the page (a
// CDN sends no headers of ours): no script, images from the site and the
// hosts of its entries' pictures only, the page's own style.
func indexCSP(entries []Entry) string {
	img := []string{"'self'", "data:"} // data: for the empty favicon
	for _, e := range entries {
		if e.Image == nil {
			continue
		}
		if u, err := url.Parse(e.Image.URL); err == nil && u.Host != "" && !slices.Contains(img, u.Scheme+"://"+u.Host) {
			img = append(img, u.Scheme+"://"+u.Host)
		}
	}
	return "default-src 'none'; img-src " + strings.Join(img, " ") + "; style-src " + indexStyle + "; base-uri 'none'; form-action 'none'"
}

// Index renders the site's home page: the newest entries with their lead
// pictures, and links to the feeds.
func Index(site Site, entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	lang := site.Language
	if lang == "" {
		lang = "und"
	}
	err := indexTmpl.Execute(&buf, struct {
		CSP     string
		Site    Site
		Lang    string
		Entries []Entry
		Files   map[string]string
	}{indexCSP(entries), site, lang, entries, map[string]string{"RSS": FileRSS, "Atom": FileAtom, "JSON": FileJSON}})
	if err != nil {
		return nil, fmt.Errorf("feeds %s: index: %w", site.Name, err)
	}
	return buf.Bytes(), nil
}
