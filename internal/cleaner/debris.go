package cleaner

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// toolbarWords are what share bars, font-size controls and print buttons
// leave behind. A line made only of these (and separators) is debris.
var toolbarWords = []string{
	"a-", "a+", "a", "in bài", "in", "print", "chia sẻ", "share", "shares", "tweet", "email", "e-mail", "gửi email", "gửi bài",
	"bình luận", "comment", "comments", "lưu", "lưu tin", "save", "copy link", "sao chép liên kết", "theo dõi", "follow", "like", "thích",
	"facebook", "twitter", "x", "zalo", "linkedin", "whatsapp", "telegram", "pinterest", "reddit", "messenger", "viber", "google",
	"google news", "tiktok", "youtube", "instagram", "phóng to", "thu nhỏ", "cỡ chữ", "font", "text size", "listen", "nghe", "đọc bài",
	"nghe bài", "báo lỗi", "report", "rss",
}

// adWords stand alone where an advertisement was cut out.
var adWords = []string{"advertisement", "quảng cáo", "sponsored", "tài trợ", "ads", "ad", "scroll to continue", "continue reading below", "story continues below", "story continues below advertisement"}

var (
	toolbarSet = toSet(toolbarWords)
	adSet      = toSet(adWords)
	// Two-word toolbar phrases, longest first, so "chia sẻ" is eaten
	// whole rather than leaving "sẻ".
	toolbarPhrases = phrases(toolbarWords)

	// A rights footer starts with the claim, or carries phrases no body
	// sentence uses; "Luật bản quyền mới…" in a story is not a footer.
	reCopyright  = regexp.MustCompile(`(?i)(^\s*(©|\(c\)\s*\d{4}|copyright\b|bản quyền\b)|©|all rights reserved|giữ bản quyền|ghi rõ nguồn|không được sao chép|cấm sao chép|reproduction (is )?prohibited)`)
	reEmptyLabel = regexp.MustCompile(`(?i)^(nguồn|source|tags?|từ khóa|từ khoá|tác giả|author|ảnh|photo|chủ đề|topics?)\s*[:：]?\s*$`)
	reTagsLine   = regexp.MustCompile(`(?i)^(tags?|từ khóa|từ khoá|chủ đề|topics?)\s*[:：]`)
	reDraftMark  = regexp.MustCompile(`(?i)tin\s*nh[aáả]p\s*[-_:]?\s*\d{14}`)
	reImageName  = regexp.MustCompile(`(?i)^[\w\-. ()]{1,80}\.(jpe?g|png|gif|webp|heic|tiff?|bmp|avif)$`)
	reImageLabel = regexp.MustCompile(`(?i)^[\[(]?\s*(ảnh minh họa|ảnh minh hoạ|ảnh minh hoạ:?|hình minh họa|ảnh|hình ảnh|photo|image|illustration|photo illustration|picture)\s*[\])]?$`)
	reWireFooter = regexp.MustCompile(`(?i)^\(?\s*((additional )?reporting|writing|editing|compiled|reporting and writing|graphics|production|fact-checking) by\b`)
)

func toSet(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func phrases(words []string) []string {
	var out []string
	for _, w := range words {
		if strings.Contains(w, " ") {
			out = append(out, w)
		}
	}
	return out
}

// isToolbar: every word of the line is a toolbar word or a separator.
func isToolbar(line string) bool {
	if len(line) > maxToolbar {
		return false
	}
	low := strings.ToLower(line)
	for _, p := range toolbarPhrases {
		low = strings.ReplaceAll(low, p, " ")
	}
	words := strings.FieldsFunc(low, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("|•·/,;()[]", r)
	})
	if len(words) == 0 {
		return true
	}
	for _, w := range words {
		w = strings.Trim(w, ".:!")
		if w != "" && !toolbarSet[w] && !isCount(w) {
			return false
		}
	}
	return true
}

// maxToolbar is the longest line, in bytes, read as a toolbar: a row of
// a dozen buttons.
const maxToolbar = 160

// isCount: share counters like "12", "1,2k" next to the buttons.
func isCount(w string) bool {
	w = strings.TrimSuffix(w, "k")
	for _, r := range w {
		if !unicode.IsDigit(r) && r != ',' && r != '.' {
			return false
		}
	}
	return w != ""
}

func isAd(line string) bool {
	if len(line) > 80 {
		return false
	}
	return adSet[strings.ToLower(strings.Trim(line, " .:-–—[]()|"))]
}

// isCopyright: a footer line claiming rights, short enough not to be a
// paragraph that merely mentions copyright.
func isCopyright(line string) bool {
	if atLeastRunes(line, 251) {
		return false
	}
	low := strings.ToLower(line)
	for _, k := range copyrightHints {
		if strings.Contains(low, k) {
			return reCopyright.MatchString(line)
		}
	}
	return false
}

// copyrightHints are words every rights footer contains one of; lines
// without them skip the pattern.
var copyrightHints = []string{"©", "(c)", "copyright", "bản quyền", "rights reserved", "ghi rõ nguồn", "sao chép", "reproduction"}

// isStray: template leftovers: one or two characters, or no letter or
// digit at all.
func isStray(line string) bool {
	if len(line) <= 8 && utf8.RuneCountInString(line) <= 2 {
		return true
	}
	for _, r := range line {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// isDebris: a line that is CMS or page debris wherever it stands.
func (c *Cleaner) isDebris(t string) bool {
	return isStray(t) || isToolbar(t) || isAd(t) || isCopyright(t) || reEmptyLabel.MatchString(t) ||
		reTagsLine.MatchString(t) || isPrompt(t) || c.isHouseDebris(t)
}

// rePrompt is what a page asks of its reader, never what its article
// says: sign up, log in to comment, get the app, an error to try again.
// Each pattern is anchored to the start of the line, and a line that
// goes on for long is a sentence of the article and no prompt.
var rePrompt = regexp.MustCompile(`(?i)^(` +
	`(sign up|subscribe|register)( now| today| here| free)?( for| to)\b.{0,80}(newsletter|inbox|email|updates|alerts)|` +
	`thanks? (you )?for (signing up|subscribing|registering)|` +
	`keep an eye on your inbox|check your inbox|` +
	`get the (day|week)'?s (big|top|latest) (stories|news)|` +
	`click here to (subscribe|sign up|read more|see more)|` +
	`(download|get) (the|our) .{1,40} app\b|` +
	`(you must|you need to|please) (be )?(log ?in|logged in|sign ?in|signed in|register) to (post|leave|write|add|make) (a )?comments?|` +
	`(comments are|commenting is) (closed|disabled)|` +
	`an error (has )?occurred|something went wrong, please try again|` +
	`this copy is for your personal,? non-commercial use only|` +
	`you may also like|recommended for you|more from our partners|` +
	`đăng ký nhận (bản tin|tin)|mời (quý )?(bạn|độc giả) (đọc|xem) thêm|tải ứng dụng` +
	`)`)

func isPrompt(t string) bool {
	return utf8.RuneCountInString(t) <= 300 && rePrompt.MatchString(t)
}
