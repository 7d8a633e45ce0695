package cleaner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRefused(t *testing.T) {
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   Input
		want error
	}{
		{"undeclared legacy bytes", Input{Data: []byte("Ti\xean t\xf4i \xe0 H\xe0 N\xf4\xcci\n\nM\xf4\xcct \xf0o\xe0n."), Format: FormatText}, ErrUnknownCharset},
		{"declared utf-8 but not", Input{Data: []byte("Tin \xff"), Format: FormatText, Charset: "utf-8"}, ErrNotUTF8},
		{"blank", Input{Data: []byte(" \n\n \r\n"), Format: FormatText}, ErrEmpty},
		{"only debris", Input{Data: []byte("M\n\nA- A A+\nChia sẻ\n\nNguồn :\n"), Format: FormatText}, ErrEmpty},
		{"json that is not ninjs", Input{Data: []byte(`{"foo": 1}`)}, ErrNotNinjs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Clean(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Clean = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHouseRulesErrors(t *testing.T) {
	for _, r := range []HouseRules{
		{TimeZone: "Mars/Base"},
		{Debris: []string{"("}},
		{DateFormats: []string{`(?P<day>\d+)/(?P<month>\d+)`}},
	} {
		if _, err := New(r); err == nil {
			t.Errorf("New(%+v) accepted", r)
		}
	}
}

// countdown is a context that ends after its Err has been asked n times:
// where cleaning looks, not when, decides what the test sees.
type countdown struct {
	context.Context
	n *atomic.Int32
}

func (c countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestCleanStopsAtItsDeadline: cleaning gives up when its context ends,
// between parsing and the rules and while the rules run over a long
// article, with an error that says so; with time left it finishes.
func TestCleanStopsAtItsDeadline(t *testing.T) {
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	var long strings.Builder
	long.WriteString("Một bài rất dài\n\n")
	for i := range 5000 {
		fmt.Fprintf(&long, "Đoạn thứ %d của bài, mỗi đoạn một khác.\n\n", i)
	}
	in := Input{Data: []byte(long.String()), Format: FormatText}
	for _, tt := range []struct {
		name   string
		checks int32 // how many looks at the context find it alive
	}{
		{"ended before the rules", 0},
		{"ended while the rules run", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := &atomic.Int32{}
			n.Store(tt.checks)
			a, err := c.CleanContext(countdown{context.Background(), n}, in)
			if !errors.Is(err, context.Canceled) || a != nil || !strings.Contains(err.Error(), "cleaning stopped") {
				t.Fatalf("CleanContext = %v, %v; want it stopped", a != nil, err)
			}
		})
	}
	a, err := c.CleanContext(context.Background(), in)
	if err != nil || len(a.Blocks) < 4999 { // the first paragraph may become the lead
		t.Fatalf("with time left: %v blocks, %v", len(a.GetBlocks()), err)
	}
}
