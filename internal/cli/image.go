package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pressline/pressline/internal/imaging"
)

// cmdImage runs the rendition code on one file, writes the renditions to
// a folder and prints a JSON report, or fails with the refusal's reason.
func cmdImage(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	widths := fs.String("widths", "320,640,1024,1600,2048", "rendition widths in pixels, comma-separated")
	formats := fs.String("formats", "webp,jpeg", "output formats: webp, jpeg, avif")
	out := fs.String("out", "", "folder for the renditions (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		return errors.New("usage: pressline image [--widths 320,640,…] [--formats webp,jpeg] --out DIR FILE")
	}
	var cfg imaging.Config
	for _, w := range strings.Split(*widths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			return fmt.Errorf("--widths: %q is not a number of pixels", w)
		}
		cfg.Widths = append(cfg.Widths, n)
	}
	for _, f := range strings.Split(*formats, ",") {
		cfg.Formats = append(cfg.Formats, imaging.Format(strings.TrimSpace(f)))
	}
	p, err := imaging.New(cfg)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	res, err := p.Process(src)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	type rendition struct {
		imaging.Rendition
		Path string `json:"path"`
	}
	report := struct {
		*imaging.Result
		Renditions []rendition `json:"renditions"`
	}{Result: res}
	for _, r := range res.Renditions {
		// Named as in storage: media/<sha256>/<width>.<format>.
		path := filepath.Join(*out, r.Name())
		if err := os.WriteFile(path, r.Data, 0o644); err != nil {
			return err
		}
		report.Renditions = append(report.Renditions, rendition{Rendition: r, Path: path})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(report)
}
