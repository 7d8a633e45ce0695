package cleaner

import (
	"slices"
	"strings"
	"testing"
)

func TestReversedYearRanges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"nhiệm kỳ 2016 – 2010 và 2020-2025", []string{"2016 – 2010"}},
		{"từ 2020—2019, rồi 1999-1998", []string{"2020—2019", "1999-1998"}},
		{"the 2010-2016 term", nil},
		{"12016-2010 and 2016-20101 are not years", nil},
		{"1700-1600 is out of range", nil},
		{"- 2016 -", nil},
		{"2016--2010", nil},
		{"2016 -", nil},
		{"", nil},
	} {
		if got := reversedYearRanges(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("reversedYearRanges(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// reversedYearRangesByYears is the first version, which tried every
// position as a year; the dash-first scan must find the same ranges.
func reversedYearRangesByYears(t string) []string {
	var out []string
	for i := 0; i+4 <= len(t); i++ {
		if !isYearAt(t, i) {
			continue
		}
		j := i + 4
		for j < len(t) && t[j] == ' ' {
			j++
		}
		dash := 0
		for _, d := range []string{"-", "–", "—"} {
			if strings.HasPrefix(t[j:], d) {
				dash = len(d)
			}
		}
		if dash == 0 {
			continue
		}
		k := j + dash
		for k < len(t) && t[k] == ' ' {
			k++
		}
		if isYearAt(t, k) && t[k:k+4] < t[i:i+4] {
			out = append(out, t[i:k+4])
		}
	}
	return out
}

func FuzzReversedYearRanges(f *testing.F) {
	for _, s := range []string{"2016 – 2010", "2020—2019-2018–1900", "1999 -  1998 — 1997", "x2016-2010"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := reversedYearRanges(s), reversedYearRangesByYears(s); !slices.Equal(got, want) {
			t.Fatalf("reversedYearRanges(%q) = %q, want %q", s, got, want)
		}
	})
}
