package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/config"
)

// cmdClean prints the cleaned article JSON for one file, the same document
// the clean service stores.
func cmdClean(_ context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	format := fs.String("format", "auto", "input format: auto, text, html, markdown or ninjs (a .md file is markdown)")
	base := fs.String("base-url", "", "where the input came from, for its relative links (as a Content-Location)")
	charset := fs.String("charset", "", "charset of the input when it is not UTF-8 (e.g. windows-1258)")
	tz := fs.String("tz", envOr("timezone", config.Default().TimeZone), "zone of times written without one [$PRESSLINE_TIMEZONE]")
	rulesFile := fs.String("house-rules", envOr("house-rules", ""), "JSON file of the newsroom's house rules [$PRESSLINE_HOUSE_RULES]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: pressline clean [--format auto|text|html|ninjs] [--charset NAME] [--tz ZONE] FILE|-")
	}
	f, err := cleaner.ParseFormat(*format)
	if err != nil {
		return err
	}
	var rules cleaner.HouseRules
	if *rulesFile != "" {
		if rules, err = config.ReadHouseRules(*rulesFile); err != nil {
			return fmt.Errorf("--house-rules: %w", err)
		}
	}
	// An explicit --tz wins; otherwise the house rules' zone, then the
	// newsroom default.
	tzGiven := false
	fs.Visit(func(f *flag.Flag) { tzGiven = tzGiven || f.Name == "tz" })
	if tzGiven || rules.TimeZone == "" {
		rules.TimeZone = *tz
	}
	c, err := cleaner.New(rules)
	if err != nil {
		return err
	}
	var data []byte
	if fs.Arg(0) == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	if f == cleaner.FormatAuto && (strings.HasSuffix(fs.Arg(0), ".md") || strings.HasSuffix(fs.Arg(0), ".markdown")) {
		f = cleaner.FormatMarkdown // Markdown cannot be told from text by its bytes
	}
	a, err := c.Clean(cleaner.Input{Data: data, Format: f, Charset: *charset, BaseURL: *base})
	if err != nil {
		return fmt.Errorf("clean %s: %w", fs.Arg(0), err)
	}
	out, err := cleaner.JSON(a)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
