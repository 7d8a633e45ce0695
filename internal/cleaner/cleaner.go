// Package cleaner turns a newsroom's export (plain text, an HTML page or
// fragment, or an IPTC ninjs document) into a structured Article: title,
// kicker, dateline, section, lead, body blocks, images with captions and
// credits, bylines, source, publish time, related links and language. It
// strips CMS debris, removes duplicated passages, normalises Unicode (NFC)
// and whitespace, decodes legacy charsets, and flags what it must not
// change silently as warnings for an editor.
//
// Every format is first turned into segments in reading order, and one set
// of rules (rules.go) applies to all of them, so a debris class handled for
// text is handled for HTML and ninjs bodies too.
package cleaner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Format names an input format.
type Format string

// The formats the cleaner reads.
const (
	FormatAuto  Format = "auto"
	FormatText  Format = "text"
	FormatHTML  Format = "html"
	FormatNinjs Format = "ninjs"
	// FormatMarkdown is CommonMark with GitHub's tables, strikethrough
	// and autolinks, as newsroom tools export it.
	FormatMarkdown Format = "markdown"
)

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatAuto, FormatText, FormatHTML, FormatNinjs, FormatMarkdown:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	case "":
		return FormatAuto, nil
	}
	return "", fmt.Errorf("format %q is not one of auto, text, html, ninjs, markdown", s)
}

// HouseRules are a newsroom's own settings, read from configuration so
// that they change without a code change.
type HouseRules struct {
	// TimeZone of times written without one (IANA name); default
	// Asia/Ho_Chi_Minh.
	TimeZone string `json:"timezone"`
	// Language when detection is unsure (BCP 47); default "vi".
	Language string `json:"language"`
	// MonthFirst reads numeric dates as month/day/year (US style).
	MonthFirst bool `json:"month_first"`
	// Debris are extra regular expressions; a line that matches one is
	// dropped (e.g. "^Đường dây nóng:").
	Debris []string `json:"debris"`
	// DateFormats are extra regular expressions with named groups day,
	// month and year (and the usual clock and zone around them).
	DateFormats []string `json:"date_formats"`
	// Sections are labels read as the section when they stand alone above
	// the title.
	Sections []string `json:"sections"`
	// Typos maps known misspellings to the right spelling; a match is a
	// warning, never a change.
	Typos map[string]string `json:"typos"`
	// MinWords below which the body is flagged as suspiciously short;
	// default 40.
	MinWords int `json:"min_words"`
}

// Cleaner applies one newsroom's rules. Build it once; it is safe for
// concurrent use.
type Cleaner struct {
	dates    dateFinder
	language string
	debris   []*regexp.Regexp
	sections map[string]bool
	typos    []typo
	minWords int
}

type typo struct{ wrong, right string }

// defaultSections are labels Vietnamese and English sites print above a
// title.
var defaultSections = []string{"thời sự", "chính trị", "kinh tế", "xã hội", "thế giới", "pháp luật", "văn hóa", "văn hoá", "giáo dục",
	"thể thao", "sức khỏe", "sức khoẻ", "đời sống", "giải trí", "du lịch", "khoa học", "công nghệ", "xe", "bất động sản", "quốc phòng",
	"an ninh", "nông thôn mới", "world", "business", "politics", "sport", "sports", "technology", "science", "health", "opinion",
	"culture", "uk news", "us news", "environment", "education"}

// defaultTypos are misspellings common enough in Vietnamese CMS copy to
// flag without false alarms: each wrong form is not a word.
var defaultTypos = map[string]string{"tuyền truyền": "tuyên truyền", "truyên truyền": "tuyên truyền", "sảy ra": "xảy ra", "xuất xắc": "xuất sắc", "chuẩn đoán": "chẩn đoán"}

// New compiles a newsroom's rules.
func New(r HouseRules) (*Cleaner, error) {
	tz := r.TimeZone
	if tz == "" {
		tz = "Asia/Ho_Chi_Minh"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("house rules: timezone %q: %w", tz, err)
	}
	c := &Cleaner{dates: dateFinder{loc: loc, monthFirst: r.MonthFirst}, language: r.Language, sections: map[string]bool{}, minWords: r.MinWords}
	if c.language == "" {
		c.language = "vi"
	}
	if c.minWords == 0 {
		c.minWords = 40
	}
	for _, p := range r.Debris {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("house rules: debris pattern %q: %w", p, err)
		}
		c.debris = append(c.debris, re)
	}
	for _, p := range r.DateFormats {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, fmt.Errorf("house rules: date format %q: %w", p, err)
		}
		for _, g := range []string{"day", "month", "year"} {
			if re.SubexpIndex(g) < 0 {
				return nil, fmt.Errorf("house rules: date format %q has no (?P<%s>…) group", p, g)
			}
		}
		c.dates.extra = append(c.dates.extra, re)
	}
	for _, s := range append(defaultSections, r.Sections...) {
		c.sections[strings.ToLower(s)] = true
	}
	typos := map[string]string{}
	for k, v := range defaultTypos {
		typos[k] = v
	}
	for k, v := range r.Typos {
		typos[strings.ToLower(k)] = v
	}
	for k, v := range typos {
		c.typos = append(c.typos, typo{dedupeKey(k), v})
	}
	// A stable order keeps warnings, and so documents, reproducible.
	sort.Slice(c.typos, func(i, j int) bool { return c.typos[i].wrong < c.typos[j].wrong })
	return c, nil
}

// isHouseDebris: a line the newsroom's own patterns call debris.
func (c *Cleaner) isHouseDebris(line string) bool {
	for _, re := range c.debris {
		if re.MatchString(line) {
			return true
		}
	}
	return false
}

// Input is one document to clean.
type Input struct {
	Data   []byte
	Format Format
	// Charset the sender declared (HTTP charset= or --charset); empty
	// when none was.
	Charset string
	// BaseURL is where the document came from (a Content-Location), to
	// make its relative links and image sources absolute when it names no
	// base or canonical URL of its own; ignored unless an absolute http(s)
	// URL.
	BaseURL string
}

// Errors the cleaner returns for input it refuses. They are permanent:
// the same bytes fail the same way.
var (
	ErrNotUTF8 = errors.New("input is not valid UTF-8")
	ErrEmpty   = errors.New("input has no text")
)

// Clean parses one document.
func (c *Cleaner) Clean(in Input) (*pb.Article, error) {
	return c.CleanContext(context.Background(), in)
}

// CleanContext is Clean that gives up when ctx ends: between parsing and
// the rules, and every few hundred segments while the rules run, with an
// error that wraps ctx's. Parsing itself (go-trafilatura, x/net/html,
// goldmark) is not interrupted; its cost is bounded by the input's size
// limits instead.
func (c *Cleaner) CleanContext(ctx context.Context, in Input) (*pb.Article, error) {
	format := in.Format
	if format == "" || format == FormatAuto {
		format = sniff(in.Data)
	}
	var (
		segs []segment
		m    meta
		err  error
	)
	base := httpBase(in.BaseURL)
	switch format {
	case FormatText:
		segs, m, err = c.parseText(in.Data, in.Charset)
	case FormatHTML:
		segs, m, err = c.parseHTML(in.Data, in.Charset, base)
	case FormatNinjs:
		segs, m, err = c.parseNinjs(in.Data, in.Charset, base)
	case FormatMarkdown:
		segs, m, err = c.parseMarkdown(in.Data, in.Charset, base)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	if err := stopped(ctx); err != nil {
		return nil, err
	}
	a, err := c.build(ctx, segs, m)
	if err != nil {
		return nil, err
	}
	if a.Title == "" && a.Lead == "" && len(a.Blocks) == 0 {
		return nil, ErrEmpty
	}
	return a, nil
}

// stopped says why cleaning must stop now, or nil.
func stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cleaning stopped before it finished: %w", err)
	}
	return nil
}

// httpBase is s as a base URL, when it is an absolute http(s) one.
func httpBase(s string) *url.URL {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	return u
}

// sniff tells the format from the first bytes.
func sniff(data []byte) Format {
	head := bytes.TrimLeft(data, "\xef\xbb\xbf \t\r\n")
	if len(head) > 1024 {
		head = head[:1024]
	}
	low := bytes.ToLower(head)
	switch {
	case bytes.HasPrefix(low, []byte("{")):
		return FormatNinjs
	case bytes.HasPrefix(low, []byte("<")),
		bytes.Contains(low, []byte("<p>")), bytes.Contains(low, []byte("<p ")),
		bytes.Contains(low, []byte("<div")), bytes.Contains(low, []byte("<br")):
		return FormatHTML
	}
	return FormatText
}
