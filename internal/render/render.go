// Package render turns a cleaned article into what readers and downstream
// systems get: an IPTC ninjs 3.0 document and an HTML page with schema.org
// NewsArticle JSON-LD, OpenGraph and Twitter card tags. Every string from
// the article is escaped by html/template or encoding/json, and the body is
// then passed through a bluemonday allow-list policy, so that no script,
// style or event handler a newsroom sends can reach a page even if a
// template is later changed carelessly.
package render

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Meta is what the pipeline knows of an article beyond its content.
type Meta struct {
	ID        string
	Version   uint32
	Site      string
	URL       string // canonical public URL of the page
	Received  time.Time
	Published time.Time // when this version went out
	// FirstPublished is when version 1 went out; Published when zero.
	FirstPublished time.Time
	SiteTitle      string
	// PublicBase is the base URL of the public prefix: a rendition stored
	// at public/media/x/320.webp is served at PublicBase + media/x/320.webp.
	PublicBase string
}

// mediaURL is where a stored rendition is served.
func (m Meta) mediaURL(key string) string {
	path, _ := layout.PublicPath(key)
	return strings.TrimSuffix(m.PublicBase, "/") + "/" + path
}

// Ninjs is the subset of IPTC ninjs 3.0 that Pressline fills, with the
// 3.0 schema's own (camelCase) names: a test validates every document
// against IPTC's schema.
type Ninjs struct {
	URI             string         `json:"uri"`
	Type            string         `json:"type"`
	Version         string         `json:"version"`
	FirstCreated    string         `json:"firstCreated,omitempty"`
	VersionCreated  string         `json:"versionCreated"`
	PubStatus       string         `json:"pubStatus"`
	Urgency         int32          `json:"urgency,omitempty"`
	Language        string         `json:"language,omitempty"`
	Headlines       []NinjsText    `json:"headlines"`
	Descriptions    []NinjsText    `json:"descriptions,omitempty"`
	Bodies          []NinjsBody    `json:"bodies,omitempty"`
	By              string         `json:"by,omitempty"`
	Located         string         `json:"located,omitempty"`
	Slugline        string         `json:"slugline,omitempty"`
	InfoSources     []NinjsSource  `json:"infoSources,omitempty"`
	Subjects        []NinjsConcept `json:"subjects,omitempty"`
	Genres          []NinjsConcept `json:"genres,omitempty"`
	Places          []NinjsConcept `json:"places,omitempty"`
	People          []NinjsConcept `json:"people,omitempty"`
	Organisations   []NinjsConcept `json:"organisations,omitempty"`
	CopyrightHolder string         `json:"copyrightHolder,omitempty"`
	CopyrightNotice string         `json:"copyrightNotice,omitempty"`
	UsageTerms      string         `json:"usageTerms,omitempty"`
	Associations    []NinjsPicture `json:"associations,omitempty"`
}

// NinjsText is a headline or description.
type NinjsText struct {
	Role        string `json:"role"`
	ContentType string `json:"contentType,omitempty"`
	Value       string `json:"value"`
}

// NinjsBody is a body in one content type.
type NinjsBody struct {
	Role        string `json:"role"`
	ContentType string `json:"contentType"`
	Value       string `json:"value"`
}

// NinjsConcept is a subject, genre, place, person or organisation.
type NinjsConcept struct {
	Name    string `json:"name,omitempty"`
	Rel     string `json:"rel,omitempty"`
	URI     string `json:"uri,omitempty"`
	Literal string `json:"literal,omitempty"`
}

// NinjsPicture is an image of the article with its renditions.
type NinjsPicture struct {
	Name         string           `json:"name"`
	Type         string           `json:"type"`
	URI          string           `json:"uri"`
	By           string           `json:"by,omitempty"`
	Descriptions []NinjsText      `json:"descriptions,omitempty"`
	Renditions   []NinjsRendition `json:"renditions"`
}

// NinjsRendition is one size and format of a picture.
type NinjsRendition struct {
	Name        string `json:"name"`
	Href        string `json:"href"`
	ContentType string `json:"contentType"`
	Width       int32  `json:"width"`
	Height      int32  `json:"height"`
	SizeInBytes int64  `json:"sizeInBytes"`
}

// NinjsSource names where the content came from.
type NinjsSource struct {
	Name string `json:"name"`
}

// NinjsDoc renders the ninjs 3.0 JSON document of an article.
func NinjsDoc(a *pb.Article, m Meta) ([]byte, error) {
	doc := Ninjs{
		URI:            m.URL,
		Type:           "text",
		Version:        fmt.Sprint(m.Version),
		VersionCreated: m.Published.UTC().Format(time.RFC3339),
		PubStatus:      "usable",
		Urgency:        a.GetUrgency(),
		Language:       a.GetLanguage(),
		Headlines:      []NinjsText{{Role: "main", Value: a.GetTitle()}},
		Located:        first(a.GetDateline(), a.GetKicker()),
		By:             byline(a),
		Bodies:         []NinjsBody{{Role: "main", ContentType: "text/html", Value: BodyHTML(a, m)}},
		Subjects:       concepts(a.GetSubjects(), true),
		Genres:         concepts(a.GetGenres(), false),
		Places:         concepts(a.GetPlaces(), true),
		People:         concepts(a.GetPeople(), true),
		Organisations:  concepts(a.GetOrganisations(), true),
	}
	// ninjs 3.0 has no keywords of their own: they are subjects.
	for _, k := range a.GetKeywords() {
		doc.Subjects = append(doc.Subjects, NinjsConcept{Name: k, Rel: "keyword", Literal: k})
	}
	if r := a.GetRights(); r != nil {
		doc.CopyrightHolder, doc.CopyrightNotice, doc.UsageTerms = r.GetCopyrightHolder(), r.GetCopyrightNotice(), r.GetUsageTerms()
	}
	doc.FirstCreated = datePublished(a, m)
	if a.GetLead() != "" {
		doc.Descriptions = []NinjsText{{Role: "summary", Value: a.GetLead()}}
		if len(a.GetLeadSpans()) > 0 {
			doc.Descriptions = append(doc.Descriptions, NinjsText{Role: "summary", ContentType: "text/html", Value: sanitize(inlineHTML(m, a.GetLead(), a.GetLeadSpans()))})
		}
	}
	if a.GetSource() != "" {
		doc.InfoSources = []NinjsSource{{Name: a.GetSource()}}
	}
	for i, b := range a.GetBlocks() {
		img := b.GetImage()
		if img.GetMedia() == nil {
			continue
		}
		pic := NinjsPicture{Name: fmt.Sprintf("picture%d", i+1), Type: "picture", By: img.GetCredit()}
		if fb := fallback(img.GetMedia()); fb != nil {
			pic.URI = m.mediaURL(fb.GetKey())
		}
		if img.GetCaption() != "" {
			pic.Descriptions = []NinjsText{{Role: "caption", Value: img.GetCaption()}}
		}
		for _, r := range img.GetMedia().GetRenditions() {
			pic.Renditions = append(pic.Renditions, NinjsRendition{Name: path.Base(r.GetKey()),
				Href: m.mediaURL(r.GetKey()), ContentType: "image/" + r.GetFormat(), Width: r.GetWidth(), Height: r.GetHeight(), SizeInBytes: r.GetBytes()})
		}
		doc.Associations = append(doc.Associations, pic)
	}
	// The body is HTML: escaping its angle brackets as \u003c would
	// only make the document harder for people to read.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render ninjs %s: %w", m.ID, err)
	}
	return buf.Bytes(), nil
}

// concepts are the article's concepts in ninjs's shape; a code is a
// literal there. Genres have no rel in ninjs.
func concepts(cs []*pb.Concept, withRel bool) []NinjsConcept {
	var out []NinjsConcept
	for _, c := range cs {
		n := NinjsConcept{Name: c.GetName(), URI: c.GetUri(), Literal: c.GetCode()}
		if withRel {
			n.Rel = c.GetRel()
		}
		out = append(out, n)
	}
	return out
}

// BodyHTML is the article's body as a sanitized HTML fragment with
// absolute image URLs, as ninjs documents and feeds carry it.
func BodyHTML(a *pb.Article, m Meta) string {
	return sanitize(newBodyWriter(m, forDocument).body(a))
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func byline(a *pb.Article) string {
	var names []string
	for _, b := range a.GetByline() {
		if b.GetRole() != "" {
			names = append(names, b.GetName()+" ("+b.GetRole()+")")
		} else {
			names = append(names, b.GetName())
		}
	}
	return strings.Join(names, ", ")
}

//go:embed templates/*.html
var templates embed.FS

// Renderer renders HTML pages; build it once, it is safe for concurrent use.
type Renderer struct {
	page *template.Template
	// styleHash is the CSP source of the page's one <style>.
	styleHash string
}

var reStyle = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// StyleSource is the CSP source of the page's own style block, for a
// document that shows the page inside it (the console's preview).
func (r *Renderer) StyleSource() string { return r.styleHash }

// ImageSources are the CSP sources a page's images come from: the page
// itself, data: (for the empty favicon, data:, that keeps browsers from
// asking for /favicon.ico), and the host of publicBase, where renditions
// are served.
func ImageSources(publicBase string) string {
	img := "'self' data:"
	if u, err := url.Parse(publicBase); err == nil && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	return img
}

// CSP is the page's Content-Security-Policy, carried in the page itself
// (a CDN serving the stored file sends no headers of ours): no script
// runs, not even one an escaping bug let in; images come from the site
// and its media host only; the page's own style block by its hash, and
// the style attributes the sanitiser allows.
func (r *Renderer) CSP(m Meta) string {
	return "default-src 'none'; img-src " + ImageSources(m.PublicBase) + "; style-src " + r.styleHash + "; style-src-attr 'unsafe-inline'; base-uri 'none'; form-action 'none'"
}

// New parses the page templates.
func New() (*Renderer, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"srcset":   srcset,
		"fallback": fallback,
		"mediaURL": func(m Meta, key string) string { return m.mediaURL(key) },
		"display":  displayTime,
		// bluemonday checks styles in lower case but keeps them as
		// written; the page gets one spelling of a colour.
		"lower": strings.ToLower,
	}).ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("render: templates: %w", err)
	}
	src, err := templates.ReadFile("templates/article.html")
	if err != nil {
		return nil, fmt.Errorf("render: templates: %w", err)
	}
	style := reStyle.FindSubmatch(src)
	if style == nil {
		return nil, errors.New("render: the page template has no <style>")
	}
	sum := sha256.Sum256(style[1])
	return &Renderer{page: t, styleHash: "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"}, nil
}

type pageData struct {
	CSP           string
	A             *pb.Article
	M             Meta
	Byline        string
	Lead          template.HTML
	Body          template.HTML
	Image         *LeadImage
	DatePublished string
	DateModified  string
	JSONLD        newsArticle
}

// LeadImage is the picture that represents an article in link previews
// and feeds: the fallback JPEG of its first image with renditions.
type LeadImage struct {
	URL           string
	Width, Height int32
	Bytes         int64
	Alt           string
	// Crops are the URLs of its 16:9, 4:3 and 1:1 crops, where it has
	// them: what JSON-LD lists, as search engines ask.
	Crops []string
}

// Lead returns the article's lead picture, or nil.
func Lead(a *pb.Article, m Meta) *LeadImage {
	for _, b := range a.GetBlocks() {
		img := b.GetImage()
		if fb := fallback(img.GetMedia()); fb != nil {
			alt := img.GetAlt()
			if alt == "" {
				alt = img.GetCaption()
			}
			li := &LeadImage{URL: m.mediaURL(fb.GetKey()), Width: fb.GetWidth(), Height: fb.GetHeight(), Bytes: fb.GetBytes(), Alt: alt}
			for _, c := range img.GetMedia().GetCrops() {
				li.Crops = append(li.Crops, m.mediaURL(c.GetKey()))
			}
			return li
		}
	}
	return nil
}

// newsArticle is schema.org NewsArticle, as search engines read it.
type newsArticle struct {
	Context          string   `json:"@context"`
	Type             string   `json:"@type"`
	Headline         string   `json:"headline"`
	Description      string   `json:"description,omitempty"`
	InLanguage       string   `json:"inLanguage,omitempty"`
	DatePublished    string   `json:"datePublished"`
	DateModified     string   `json:"dateModified"`
	MainEntityOfPage string   `json:"mainEntityOfPage"`
	Image            []string `json:"image,omitempty"`
	Author           []thing  `json:"author,omitempty"`
	Publisher        *thing   `json:"publisher,omitempty"`
	ArticleSection   string   `json:"articleSection,omitempty"`
	Keywords         string   `json:"keywords,omitempty"`
	About            []thing  `json:"about,omitempty"`
	ContentLocation  *thing   `json:"contentLocation,omitempty"`
}

type thing struct {
	Type   string `json:"@type"`
	Name   string `json:"name"`
	SameAs string `json:"sameAs,omitempty"`
}

// Page renders the article's HTML page.
func (r *Renderer) Page(a *pb.Article, m Meta) ([]byte, error) {
	d := pageData{CSP: r.CSP(m), A: a, M: m, Byline: byline(a), Image: Lead(a, m),
		DatePublished: datePublished(a, m), DateModified: m.Published.UTC().Format(time.RFC3339)}
	w := newBodyWriter(m, forPage)
	w.body(a)
	w.related(a)
	d.Body = template.HTML(sanitize(w.b.String()))
	if a.GetLead() != "" {
		d.Lead = template.HTML(sanitize(inlineHTML(m, a.GetLead(), a.GetLeadSpans())))
	}
	d.JSONLD = newsArticle{Context: "https://schema.org", Type: "NewsArticle", Headline: a.GetTitle(),
		Description: a.GetLead(), InLanguage: a.GetLanguage(), DatePublished: d.DatePublished, DateModified: d.DateModified,
		MainEntityOfPage: m.URL, ArticleSection: a.GetSection(), Keywords: strings.Join(a.GetKeywords(), ", ")}
	for _, s := range a.GetSubjects() {
		d.JSONLD.About = append(d.JSONLD.About, thing{Type: "Thing", Name: s.GetName(), SameAs: s.GetUri()})
	}
	if d.Image != nil {
		d.JSONLD.Image = d.Image.Crops
		if len(d.JSONLD.Image) == 0 {
			d.JSONLD.Image = []string{d.Image.URL}
		}
	}
	for _, b := range a.GetByline() {
		d.JSONLD.Author = append(d.JSONLD.Author, thing{Type: "Person", Name: b.GetName()})
	}
	if m.SiteTitle != "" {
		d.JSONLD.Publisher = &thing{Type: "Organization", Name: m.SiteTitle}
	}
	if a.GetKicker() != "" {
		d.JSONLD.ContentLocation = &thing{Type: "Place", Name: a.GetKicker()}
	}
	var buf bytes.Buffer
	if err := r.page.ExecuteTemplate(&buf, "article.html", d); err != nil {
		return nil, fmt.Errorf("render page %s: %w", m.ID, err)
	}
	return buf.Bytes(), nil
}

// srcset lists a format's renditions for the browser to choose from; an
// animation, when there is one, is the only WebP offered, so the page
// moves where the browser can show it and falls back to the still JPEG.
func srcset(m Meta, media *pb.Media, format string) string {
	var parts, animated []string
	for _, r := range media.GetRenditions() {
		if r.GetFormat() != format {
			continue
		}
		entry := fmt.Sprintf("%s %dw", m.mediaURL(r.GetKey()), r.GetWidth())
		if r.GetAnimated() {
			animated = append(animated, entry)
		} else {
			parts = append(parts, entry)
		}
	}
	if len(animated) > 0 {
		return strings.Join(animated, ", ")
	}
	return strings.Join(parts, ", ")
}

// fallback is the rendition an <img> without srcset support shows: the
// widest JPEG no wider than 1024 pixels, else the narrowest JPEG.
func fallback(media *pb.Media) *pb.Rendition {
	var best *pb.Rendition
	for _, r := range media.GetRenditions() {
		if r.GetFormat() != "jpeg" {
			continue
		}
		switch {
		case best == nil,
			r.GetWidth() <= 1024 && r.GetWidth() > best.GetWidth(),
			best.GetWidth() > 1024 && r.GetWidth() < best.GetWidth():
			best = r
		}
	}
	return best
}

// datePublished is the newsroom's own publication time when it gave one,
// else when Pressline first published the article.
func datePublished(a *pb.Article, m Meta) string {
	if a.GetPublishedAt() != "" {
		return a.GetPublishedAt()
	}
	first := m.FirstPublished
	if first.IsZero() {
		first = m.Published
	}
	return first.UTC().Format(time.RFC3339)
}

// displayTime writes an RFC 3339 time for readers, in the offset the
// newsroom gave: day first in Vietnamese, as Vietnamese papers do.
func displayTime(lang, rfc3339 string) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return rfc3339
	}
	if lang == "vi" {
		return t.Format("15:04, 02/01/2006")
	}
	return t.Format("2 January 2006, 15:04")
}
