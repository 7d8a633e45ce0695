package cleaner

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

var (
	reISO      = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(z|[+-]\d{2}:?\d{2})?)?\b`)
	reNumeric  = regexp.MustCompile(`\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\b`)
	reViWords  = regexp.MustCompile(`ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})`)
	reEnDMY    = regexp.MustCompile(`\b(\d{1,2})(?:st|nd|rd|th)?\s+(` + monthAlt + `)\.?,?\s+(\d{4})\b`)
	reEnMDY    = regexp.MustCompile(`\b(` + monthAlt + `)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`)
	reClock    = regexp.MustCompile(`\b(\d{1,2})\s*[:h]\s*(\d{2})(?:\s*:\s*(\d{2}))?(?:\s*(am|pm|a\.m\.|p\.m\.))?`)
	reZoneOff  = regexp.MustCompile(`\b(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b`)
	reZoneName = regexp.MustCompile(`\b(gmt|utc|ict|bst|cet|cest|est|edt|pst|pdt)\b`)
	reFiller   = regexp.MustCompile(`(?i)\b(thứ\s+(hai|ba|tư|năm|sáu|bảy|bẩy|\d)|chủ\s+nhật|cn|cập\s+nhật|đăng\s+lúc|đăng|ngày|lúc|giờ|sáng|chiều|tối|` +
		`monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|` +
		`published|updated|last|posted|modified|on|at|date|time)\b`)
)

// maxDateLine is the longest line read as a date line, in bytes:
// "Thứ Sáu, 12/04/2019 08:45 (GMT+7) - Cập nhật lúc 09:10" and then some.
const maxDateLine = 160

const monthAlt = `january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec`

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}

// zoneOffsets are the abbreviations newsrooms write after a time, in
// seconds east of UTC.
var zoneOffsets = map[string]int{"gmt": 0, "utc": 0, "ict": 7 * 3600, "bst": 3600, "cet": 3600, "cest": 7200, "est": -5 * 3600, "edt": -4 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600}

// dateFinder reads publish times in the forms newsrooms write them.
type dateFinder struct {
	loc        *time.Location
	monthFirst bool // numeric dates month-first (US house style)
	extra      []*regexp.Regexp
}

// find returns the time written in s, formatted as RFC 3339 with the
// offset written (or the newsroom's zone), and whether s is nothing but
// that time with labels, weekdays and punctuation around it.
func (f dateFinder) find(s string) (stamp string, onlyDate bool) {
	// A date line is short and has digits; a paragraph that mentions a
	// date is not one.
	if len(s) > maxDateLine || !strings.ContainsAny(s, "0123456789") {
		return "", false
	}
	low := strings.ToLower(s)
	if !looksLikeDate(low) && len(f.extra) == 0 {
		return "", false
	}
	var y, mo, d int
	var span [][]int // matched parts, removed to judge what is left
	if m := reISO.FindStringSubmatchIndex(low); m != nil {
		y, mo, d = atoi(low, m, 1), atoi(low, m, 2), atoi(low, m, 3)
		span = append(span, m[:2])
		if m[8] >= 0 {
			// A full timestamp (as in <time datetime>) carries its own
			// clock and zone.
			h, mi, sec := atoi(low, m, 4), atoi(low, m, 5), 0
			if m[12] >= 0 {
				sec = atoi(low, m, 6)
			}
			loc := f.loc
			if m[14] >= 0 {
				loc = parseOffset(low[m[14]:m[15]])
			}
			t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc)
			if t.Month() != time.Month(mo) || t.Day() != d {
				return "", false
			}
			return t.Format(time.RFC3339), leftover(low, span) == 0
		}
	} else if m := reViWords.FindStringSubmatchIndex(low); m != nil {
		d, mo, y = atoi(low, m, 1), atoi(low, m, 2), atoi(low, m, 3)
		span = append(span, m[:2])
	} else if m := reNumeric.FindStringSubmatchIndex(low); m != nil {
		a, b := atoi(low, m, 1), atoi(low, m, 2)
		y = atoi(low, m, 3)
		switch {
		case a > 12:
			d, mo = a, b
		case b > 12:
			d, mo = b, a
		case f.monthFirst:
			d, mo = b, a
		default:
			d, mo = a, b
		}
		span = append(span, m[:2])
	} else if m := reEnDMY.FindStringSubmatchIndex(low); m != nil {
		d, mo, y = atoi(low, m, 1), int(months[low[m[4]:m[4]+3]]), atoi(low, m, 3)
		span = append(span, m[:2])
	} else if m := reEnMDY.FindStringSubmatchIndex(low); m != nil {
		mo, d, y = int(months[low[m[2]:m[2]+3]]), atoi(low, m, 2), atoi(low, m, 3)
		span = append(span, m[:2])
	} else {
		for _, re := range f.extra {
			if m := re.FindStringSubmatchIndex(low); m != nil && len(m) >= 8 {
				d, mo, y = atoi(low, m, re.SubexpIndex("day")), atoi(low, m, re.SubexpIndex("month")), atoi(low, m, re.SubexpIndex("year"))
				span = append(span, m[:2])
				break
			}
		}
	}
	if y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return "", false
	}
	h, mi := 0, 0
	if m := reClock.FindStringSubmatchIndex(low); m != nil {
		h, mi = atoi(low, m, 1), atoi(low, m, 2)
		if m[8] >= 0 {
			ampm := low[m[8]]
			if ampm == 'p' && h < 12 {
				h += 12
			} else if ampm == 'a' && h == 12 {
				h = 0
			}
		}
		if h > 23 || mi > 59 {
			return "", false
		}
		span = append(span, m[:2])
	}
	loc := f.loc
	if m := reZoneOff.FindStringSubmatchIndex(low); m != nil {
		off := atoi(low, m, 2)*3600 + atoi(low, m, 3)*60
		if low[m[2]] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
		span = append(span, m[:2])
	} else if m := reZoneName.FindStringSubmatchIndex(low); m != nil {
		loc = time.FixedZone("", zoneOffsets[low[m[2]:m[3]]])
		span = append(span, m[:2])
	}
	t := time.Date(y, time.Month(mo), d, h, mi, 0, 0, loc)
	if t.Day() != d { // 31/02 and the like
		return "", false
	}
	return t.Format(time.RFC3339), leftover(low, span) == 0
}

// looksLikeDate: digits around a date separator ("23/01", "2023-06"),
// or a month written out; the patterns run only on such lines.
func looksLikeDate(low string) bool {
	for i := 1; i+1 < len(low); i++ {
		if (low[i] == '/' || low[i] == '-' || low[i] == '.') && isDigit(low[i-1]) && isDigit(low[i+1]) {
			return true
		}
	}
	if strings.Contains(low, "tháng") {
		return true
	}
	for m := range months {
		if strings.Contains(low, m) {
			return true
		}
	}
	return false
}

// leftover counts the letters and digits of s outside the matched spans,
// after weekdays and labels ("Cập nhật", "Published", "lúc") are removed.
func leftover(s string, spans [][]int) int {
	b := []byte(s)
	for _, sp := range spans {
		for i := sp[0]; i < sp[1]; i++ {
			b[i] = ' '
		}
	}
	rest := reFiller.ReplaceAllString(string(b), " ")
	n := 0
	for _, r := range rest {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

func parseOffset(s string) *time.Location {
	if s == "z" {
		return time.UTC
	}
	s = strings.ReplaceAll(s, ":", "")
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone("", off)
}

func atoi(s string, m []int, group int) int {
	if group < 0 || 2*group+1 >= len(m) || m[2*group] < 0 {
		return 0
	}
	n, _ := strconv.Atoi(s[m[2*group]:m[2*group+1]])
	return n
}
