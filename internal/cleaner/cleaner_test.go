package cleaner

import (
	"errors"
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
