// Package extractbench scores article extraction on the ScrapingHub
// article-extraction benchmark (../shared/benchmarks/article-extraction):
// 181 real pages and the article text a person marked on each. The metric
// is the benchmark's own: the text's tokens (runs of letters, digits and
// underscores, as Python's \w) made into the multiset of their 4-token
// shingles; per page precision and recall of the predicted shingles
// against the true ones; precision averaged over pages with a prediction,
// recall over pages with a truth, and F1 of the two means.
package extractbench

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Page is one page of the benchmark.
type Page struct {
	ID   string
	URL  string
	HTML []byte
	// Truth is the article's text as a person marked it.
	Truth string
}

// Load reads the benchmark from its folder: html/<id>.html.gz and
// ground-truth.json.
func Load(dir string) ([]Page, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "ground-truth.json"))
	if err != nil {
		return nil, fmt.Errorf("extractbench: %w", err)
	}
	var truth map[string]struct {
		ArticleBody string `json:"articleBody"`
		URL         string `json:"url"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		return nil, fmt.Errorf("extractbench: ground-truth.json: %w", err)
	}
	var pages []Page
	for id, t := range truth {
		f, err := os.Open(filepath.Join(dir, "html", id+".html.gz"))
		if err != nil {
			return nil, fmt.Errorf("extractbench: %w", err)
		}
		gz, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("extractbench: %s: %w", id, err)
		}
		data, err := io.ReadAll(gz)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("extractbench: %s: %w", id, err)
		}
		pages = append(pages, Page{ID: id, URL: t.URL, HTML: data, Truth: t.ArticleBody})
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].ID < pages[j].ID })
	return pages, nil
}

// tokens are the runs of word characters, as Python's \w+ finds them: a
// combining mark is not one, so it splits a token.
func tokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_') })
}

// shingles is the multiset of 4-token runs; a text of fewer tokens is one
// shingle of them all (as the benchmark's code has it).
func shingles(s string) map[string]int {
	t := tokens(s)
	out := map[string]int{}
	for i := 0; i < max(1, len(t)-3); i++ {
		out[strings.Join(t[i:min(i+4, len(t))], "\x00")]++
	}
	return out
}

// Match counts the shingles of pred that are in truth (tp), that are not
// (fp), and those of truth pred lacks (fn).
func Match(truth, pred string) (tp, fp, fn int) {
	ts, ps := shingles(truth), shingles(pred)
	for k, n := range ps {
		common := min(n, ts[k])
		tp += common
		fp += n - common
	}
	for k, n := range ts {
		fn += n - min(n, ps[k])
	}
	return tp, fp, fn
}

// Score is one extractor's result over the pages.
type Score struct {
	Precision, Recall, F1 float64
	// Pages is how many were scored; Failed how many the extractor
	// returned an error for (they count as an empty prediction).
	Pages, Failed int
	// PerPage recall, by page id, to find where text was lost.
	PerPage map[string]PageScore
}

// PageScore is one page's precision and recall.
type PageScore struct{ Precision, Recall float64 }

// Extractor is what is measured: the article text of a page, or an error.
type Extractor func(p Page) (string, error)

// Run scores an extractor on every page.
func Run(pages []Page, extract Extractor) Score {
	s := Score{PerPage: map[string]PageScore{}}
	var pSum, rSum float64
	var pN, rN int
	for _, p := range pages {
		pred, err := extract(p)
		if err != nil {
			s.Failed++
			pred = ""
		}
		tp, fp, fn := Match(p.Truth, pred)
		var ps PageScore
		if strings.TrimSpace(pred) != "" {
			ps.Precision = ratio(tp, tp+fp)
			pSum += ps.Precision
			pN++
		}
		if strings.TrimSpace(p.Truth) != "" {
			ps.Recall = ratio(tp, tp+fn)
			rSum += ps.Recall
			rN++
		}
		s.PerPage[p.ID] = ps
		s.Pages++
	}
	if pN > 0 {
		s.Precision = pSum / float64(pN)
	}
	if rN > 0 {
		s.Recall = rSum / float64(rN)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
