package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pressline/pressline/pkg/cleaner"
)

// cmdClean prints the cleaned article JSON for one file, the same document
// the clean service stores.
func cmdClean(_ context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	format := fs.String("format", "auto", "input format: auto, text, html or ninjs")
	charset := fs.String("charset", "", "charset of the input when it is not UTF-8 (e.g. windows-1258)")
	tz := fs.String("tz", envOr("timezone", "Asia/Ho_Chi_Minh"), "zone of times written without one [$PRESSLINE_TIMEZONE]")
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
	rules, err := loadHouseRules(*rulesFile)
	if err != nil {
		return err
	}
	// An explicit --tz wins; otherwise the house rules' zone, then the
	// newsroom default.
	if isSet(fs, "tz") || rules.TimeZone == "" {
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
	a, err := c.Clean(cleaner.Input{Data: data, Format: f, Charset: *charset})
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

// loadHouseRules reads a newsroom's rules file; no file means defaults.
func loadHouseRules(path string) (cleaner.HouseRules, error) {
	var r cleaner.HouseRules
	if path == "" {
		return r, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("house rules: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("house rules %s: %w", path, err)
	}
	return r, nil
}
