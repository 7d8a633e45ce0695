package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"

	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/extractbench"
)

// extractionReport is what `pressline bench-extraction` prints.
type extractionReport struct {
	Date      string                    `json:"date"`
	Machine   string                    `json:"machine"`
	Pages     int                       `json:"pages"`
	Results   map[string]extractionLine `json:"results"`
	WorstLoss []pageLoss                `json:"worst_recall_loss,omitempty"`
}

type extractionLine struct {
	Precision   float64 `json:"precision"`
	Recall      float64 `json:"recall"`
	F1          float64 `json:"f1"`
	Failed      int     `json:"failed"`
	PagesPerSec float64 `json:"pages_per_second"`
}

type pageLoss struct {
	ID          string  `json:"id"`
	URL         string  `json:"url"`
	Pressline   float64 `json:"pressline_recall"`
	Trafilatura float64 `json:"trafilatura_recall"`
}

// cmdBenchExtraction scores the cleaner on the article-extraction
// benchmark, beside go-trafilatura alone with its default options, in
// the same run and with the benchmark's metric.
func cmdBenchExtraction(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench-extraction", flag.ContinueOnError)
	dir := fs.String("dir", "../shared/benchmarks/article-extraction", "the benchmark's folder (html/<id>.html.gz and ground-truth.json)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	worst := fs.Int("worst", 10, "list the pages where the cleaner's recall falls furthest below the extractor's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: pressline bench-extraction [--dir DIR] [--json] [--worst N]")
	}
	pages, err := extractbench.Load(*dir)
	if err != nil {
		return err
	}
	cl, err := cleaner.New(cleaner.HouseRules{TimeZone: config.Default().TimeZone, Language: "en"})
	if err != nil {
		return err
	}
	extractors := []struct {
		name string
		f    extractbench.Extractor
	}{
		{"go-trafilatura v1.12.2 (default options)", func(p extractbench.Page) (string, error) {
			doc, err := html.Parse(bytes.NewReader(p.HTML))
			if err != nil {
				return "", err
			}
			res, err := trafilatura.ExtractDocument(doc, trafilatura.Options{})
			if err != nil {
				return "", err
			}
			return res.ContentText, nil
		}},
		{"pressline clean", func(p extractbench.Page) (string, error) {
			a, err := cl.Clean(cleaner.Input{Data: p.HTML, Format: cleaner.FormatHTML})
			if err != nil {
				return "", err
			}
			return cleaner.BodyText(a), nil
		}},
	}
	report := extractionReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Pages: len(pages), Results: map[string]extractionLine{}}
	scores := map[string]extractbench.Score{}
	for _, x := range extractors {
		start := time.Now()
		s := extractbench.Run(pages, x.f)
		scores[x.name] = s
		report.Results[x.name] = extractionLine{Precision: s.Precision, Recall: s.Recall, F1: s.F1, Failed: s.Failed,
			PagesPerSec: float64(len(pages)) / time.Since(start).Seconds()}
	}
	ours, theirs := scores[extractors[1].name], scores[extractors[0].name]
	for _, p := range pages {
		if d := theirs.PerPage[p.ID].Recall - ours.PerPage[p.ID].Recall; d > 0.01 {
			report.WorstLoss = append(report.WorstLoss, pageLoss{ID: p.ID, URL: p.URL, Pressline: ours.PerPage[p.ID].Recall, Trafilatura: theirs.PerPage[p.ID].Recall})
		}
	}
	sort.Slice(report.WorstLoss, func(i, j int) bool {
		a, b := report.WorstLoss[i], report.WorstLoss[j]
		return a.Trafilatura-a.Pressline > b.Trafilatura-b.Pressline
	})
	if len(report.WorstLoss) > *worst {
		report.WorstLoss = report.WorstLoss[:*worst]
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d pages, %s, %s\n", report.Pages, report.Machine, report.Date)
	fmt.Fprintln(tw, "EXTRACTOR\tPRECISION\tRECALL\tF1\tFAILED\tPAGES/S")
	for _, x := range extractors {
		r := report.Results[x.name]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t%.0f\n", x.name, r.Precision, r.Recall, r.F1, r.Failed, r.PagesPerSec)
	}
	if len(report.WorstLoss) > 0 {
		fmt.Fprintln(tw, "\nRECALL LOST\tPRESSLINE\tTRAFILATURA\tPAGE")
		for _, l := range report.WorstLoss {
			fmt.Fprintf(tw, "%.3f\t%.3f\t%.3f\t%s %s\n", l.Trafilatura-l.Pressline, l.Pressline, l.Trafilatura, l.ID[:12], l.URL)
		}
	}
	return tw.Flush()
}
