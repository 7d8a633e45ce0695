package cleaner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/html"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// ninjsDoc covers the fields of IPTC ninjs 2.x and 3.0 the cleaner reads;
// where the versions differ (headline vs headlines, body_html vs bodies,
// byline vs by, associations as object vs array) both are read.
type ninjsDoc struct {
	Type            string          `json:"type"`
	Language        string          `json:"language"`
	Headline        string          `json:"headline"`
	Headlines       []ninjsText     `json:"headlines"`
	BodyHTML        string          `json:"body_html"`
	BodyText        string          `json:"body_text"`
	Bodies          []ninjsText     `json:"bodies"`
	DescriptionText string          `json:"description_text"`
	Descriptions    []ninjsText     `json:"descriptions"`
	Byline          string          `json:"byline"`
	By              string          `json:"by"`
	Located         string          `json:"located"`
	FirstCreated    string          `json:"firstcreated"`
	VersionCreated  string          `json:"versioncreated"`
	ContentCreated  string          `json:"contentcreated"`
	Subject         []ninjsSubject  `json:"subject"`
	Infosources     []ninjsSubject  `json:"infosources"`
	Associations    json.RawMessage `json:"associations"`
	// What it is about, and its rights: ninjs 3.0 names (plural), with
	// the 2.x singular forms beside them. encoding/json matches keys
	// without regard to case, so firstCreated and firstcreated both land.
	Subjects        []ninjsSubject `json:"subjects"`
	Genres          []ninjsSubject `json:"genres"`
	Genre           []ninjsSubject `json:"genre"`
	Keywords        []string       `json:"keywords"`
	Urgency         json.Number    `json:"urgency"`
	Places          []ninjsSubject `json:"places"`
	Place           []ninjsSubject `json:"place"`
	People          []ninjsSubject `json:"people"`
	Person          []ninjsSubject `json:"person"`
	Organisations   []ninjsSubject `json:"organisations"`
	Organisation    []ninjsSubject `json:"organisation"`
	CopyrightNotice string         `json:"copyrightnotice"`
	CopyrightHolder string         `json:"copyrightholder"`
	UsageTerms      string         `json:"usageterms"`
}

type ninjsText struct {
	Role        string `json:"role"`
	ContentType string `json:"contenttype"`
	Value       string `json:"value"`
}

type ninjsSubject struct {
	Name    string `json:"name"`
	URI     string `json:"uri"`
	Rel     string `json:"rel"`
	Code    string `json:"code"`
	Scheme  string `json:"scheme"`
	Literal string `json:"literal"`
}

// concepts reads ninjs subjects (or genres, places, …) as concepts; a
// 2.x code is kept with its scheme ("medtop:20000264").
func concepts(lists ...[]ninjsSubject) []*pb.Concept {
	var out []*pb.Concept
	for _, l := range lists {
		for _, s := range l {
			c := &pb.Concept{Name: normalize(first(s.Name, s.Literal)), Uri: s.URI, Rel: s.Rel, Code: s.Code}
			if s.Scheme != "" && s.Code != "" && !strings.Contains(s.Code, ":") {
				c.Code = s.Scheme + ":" + s.Code
			}
			if c.Name != "" || c.Uri != "" || c.Code != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

type ninjsAssoc struct {
	Name            string          `json:"name"`
	Type            string          `json:"type"`
	URI             string          `json:"uri"`
	Headline        string          `json:"headline"`
	DescriptionText string          `json:"description_text"`
	Descriptions    []ninjsText     `json:"descriptions"`
	Byline          string          `json:"byline"`
	By              string          `json:"by"`
	Renditions      json.RawMessage `json:"renditions"`
}

// ErrNotNinjs is returned for JSON that is not a ninjs document.
var ErrNotNinjs = errors.New("not a ninjs document: it needs a headline (headline or headlines) or a body (body_html, body_text or bodies)")

func (c *Cleaner) parseNinjs(raw []byte, charset string, base *url.URL) ([]segment, meta, error) {
	text, err := decode(raw, charset, "")
	if err != nil {
		return nil, meta{}, err
	}
	var d ninjsDoc
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return nil, meta{}, fmt.Errorf("ninjs: %w", err)
	}
	m := meta{language: primaryLanguage(d.Language), dateline: normalize(d.Located)}
	m.title = normalize(first(d.Headline, pick(d.Headlines, "main")))
	for _, t := range []string{d.FirstCreated, d.ContentCreated, d.VersionCreated} {
		if stamp, _ := c.dates.find(t); t != "" && stamp != "" {
			m.publishedAt = stamp
			break
		}
	}
	if by := first(d.By, d.Byline); by != "" {
		m.authors = splitNames(normalize(strings.TrimPrefix(strings.TrimPrefix(by, "By "), "by ")))
	}
	if len(d.Infosources) > 0 {
		m.source = normalize(d.Infosources[0].Name)
	}
	if desc := first(d.DescriptionText, pick(d.Descriptions, "summary")); desc != "" {
		m.lead = normalize(desc)
	}
	m.subjects = concepts(d.Subjects, d.Subject)
	m.genres = concepts(d.Genres, d.Genre)
	m.places = concepts(d.Places, d.Place)
	m.people = concepts(d.People, d.Person)
	m.organisations = concepts(d.Organisations, d.Organisation)
	for _, k := range d.Keywords {
		if k = normalize(k); k != "" {
			m.keywords = append(m.keywords, k)
		}
	}
	if u, err := d.Urgency.Int64(); err == nil && u >= 1 && u <= 9 {
		m.urgency = int32(u)
	}
	if d.CopyrightNotice != "" || d.UsageTerms != "" || d.CopyrightHolder != "" {
		m.rights = &pb.Rights{CopyrightNotice: normalize(d.CopyrightNotice), UsageTerms: normalize(d.UsageTerms), CopyrightHolder: normalize(d.CopyrightHolder)}
	}

	var segs []segment
	for _, img := range ninjsImages(d.Associations) {
		segs = append(segs, img)
	}
	bodyHTML, bodyText := d.BodyHTML, d.BodyText
	for _, b := range d.Bodies {
		switch {
		case bodyHTML == "" && strings.Contains(b.ContentType, "html"):
			bodyHTML = b.Value
		case bodyText == "" && (b.ContentType == "" || strings.HasPrefix(b.ContentType, "text/plain")):
			bodyText = b.Value
		}
	}
	switch {
	case bodyHTML != "":
		node, err := html.Parse(strings.NewReader(bodyHTML))
		if err != nil {
			return nil, meta{}, fmt.Errorf("ninjs body_html: %w", err)
		}
		r := &bodyReader{base: base}
		r.walk(findBody(node))
		segs = append(segs, r.segs...)
	case bodyText != "":
		segs = append(segs, textSegments(bodyText)...)
	}
	if m.title == "" && len(segs) == 0 {
		return nil, meta{}, ErrNotNinjs
	}
	return segs, m, nil
}

func pick(texts []ninjsText, role string) string {
	for _, t := range texts {
		if t.Role == role || t.Role == "" {
			return t.Value
		}
	}
	if len(texts) > 0 {
		return texts[0].Value
	}
	return ""
}

// ninjsImages reads picture associations, an object keyed by name in 2.x
// and an array in 3.0, in a stable order.
func ninjsImages(raw json.RawMessage) []segment {
	var list []ninjsAssoc
	if json.Unmarshal(raw, &list) != nil {
		var byName map[string]ninjsAssoc
		if json.Unmarshal(raw, &byName) != nil {
			return nil
		}
		names := make([]string, 0, len(byName))
		for k := range byName {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			list = append(list, byName[k])
		}
	}
	var out []segment
	for _, a := range list {
		if a.Type != "picture" && a.Type != "image" {
			continue
		}
		out = append(out, segment{kind: segImage, src: first(a.URI, renditionHref(a.Renditions)),
			caption: first(a.DescriptionText, pick(a.Descriptions, "caption"), a.Headline), credit: first(a.By, a.Byline)})
	}
	return out
}

func renditionHref(raw json.RawMessage) string {
	var byName map[string]struct {
		Href string `json:"href"`
	}
	if json.Unmarshal(raw, &byName) == nil {
		for _, k := range []string{"original", "baseImage", "viewImage"} {
			if r, ok := byName[k]; ok && r.Href != "" {
				return r.Href
			}
		}
	}
	var list []struct {
		Href string `json:"href"`
	}
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return list[0].Href
	}
	return ""
}
