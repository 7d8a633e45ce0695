package layout

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pressline/pressline/pkg/events"
)

// Every subject Pressline publishes belongs to exactly the stream
// StreamOf names, and that stream's subjects cover it.
func TestSubjectsAndStreams(t *testing.T) {
	tests := []struct{ subject, stream string }{
		{SubjectReceived, StreamArticles},
		{SubjectCleaned, StreamArticles},
		{MediaReadySubject("01ART"), StreamArticles},
		{WithdrawSubject("01ART"), StreamArticles},
		{SiteSubject("front", events.Published), StreamSites},
		{SiteSubject("front", events.Withdrawn), StreamSites},
		{WebhookSubject("partner"), StreamSites},
		{DeadLetterSubject("clean"), StreamDeadLetter},
		{DeadLetterSubject("webhook-partner"), StreamDeadLetter},
		{ReadySubject("host-1"), StreamReady},
		{"elsewhere.entirely", ""},
	}
	for _, tt := range tests {
		if got := StreamOf(tt.subject); got != tt.stream {
			t.Errorf("StreamOf(%s) = %q, want %q", tt.subject, got, tt.stream)
		}
		for _, s := range []string{StreamArticles, StreamSites, StreamDeadLetter, StreamReady} {
			covered := slices.ContainsFunc(StreamSubjects(s), func(f string) bool { return matches(f, tt.subject) })
			if covered != (s == tt.stream) {
				t.Errorf("stream %s covers %s: %v", s, tt.subject, covered)
			}
		}
	}
	if DeadLetterStage(DeadLetterSubject("webhook-partner")) != "webhook-partner" {
		t.Error("DeadLetterStage does not invert DeadLetterSubject")
	}
}

// Both messages of an article go to one partition, whose consumer's
// filter holds them and no other partition's; the partitions cover
// every article and each is used.
func TestPublishPartitions(t *testing.T) {
	used := map[int]int{}
	for i := range 2000 {
		id := fmt.Sprintf("01KB%06dARTICLE", i)
		p := PublishPartition(id)
		used[p]++
		for q := range PublishPartitions {
			want := q == p
			for _, subj := range []string{MediaReadySubject(id), WithdrawSubject(id)} {
				if got := slices.ContainsFunc(PublishSubjects(q), func(f string) bool { return matches(f, subj) }); got != want {
					t.Fatalf("partition %d's filter holds %s: %v, want %v", q, subj, got, want)
				}
			}
		}
		if !IsWithdraw(WithdrawSubject(id)) || IsWithdraw(MediaReadySubject(id)) {
			t.Fatalf("IsWithdraw is wrong for %s", id)
		}
	}
	if len(used) != PublishPartitions {
		t.Fatalf("2000 articles fell in %d of %d partitions", len(used), PublishPartitions)
	}
	for p, n := range used {
		if n < 2000/PublishPartitions/2 {
			t.Errorf("partition %d has %d of 2000 articles", p, n)
		}
	}
}

// matches is NATS subject matching with * and >.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

func TestKeys(t *testing.T) {
	const id = "01JD0000000000000000000000"
	tests := []struct{ got, want string }{
		{Original(id, 2), "originals/" + id + "/v2/article"},
		{Upload(id, 2, "a.jpg"), "originals/" + id + "/v2/files/a.jpg"},
		{CleanedJSON(id, 1), "articles/" + id + "/v1/cleaned.json"},
		{CleanedClaim(id, 1), "articles/" + id + "/v1/cleaned.pb"},
		{MediaClaim(id, 1), "articles/" + id + "/v1/media.pb"},
		{SiteFile("front", "rss.xml"), "public/front/rss.xml"},
		{Public(ArticlePath("front", "tin-"+id) + PageFile), "public/front/articles/tin-" + id + "/index.html"},
		{Media("abc", "320.webp"), "public/media/abc/320.webp"},
		{MediaIndex("abc"), "public/media/abc/media.json"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	// No key is a prefix of another (see the package comment).
	if strings.HasPrefix(UploadsPrefix(id, 1), Original(id, 1)) || strings.HasPrefix(Original(id, 1), UploadsPrefix(id, 1)) {
		t.Error("an original and its files share a prefix")
	}
	if p, ok := PublicPath(Media("abc", "320.webp")); !ok || p != "media/abc/320.webp" {
		t.Errorf("PublicPath = %q %v", p, ok)
	}
}

func TestParseOriginal(t *testing.T) {
	id, v, ok := ParseOriginal(Original("01ABC", 7))
	if !ok || id != "01ABC" || v != 7 {
		t.Errorf("ParseOriginal(Original) = %q %d %v", id, v, ok)
	}
	for _, key := range []string{Upload("01ABC", 1, "x.jpg"), "originals/01ABC/v0/article", "originals//v1/article",
		"originals/01ABC/x1/article", CleanedJSON("01ABC", 1), "originals/01ABC/v1/article/extra"} {
		if _, _, ok := ParseOriginal(key); ok {
			t.Errorf("ParseOriginal(%q) ok", key)
		}
	}
}

func TestParseArticlePath(t *testing.T) {
	if site, ok := ParseArticlePath(ArticlePath("front", "xay-dung-01abc")); !ok || site != "front" {
		t.Errorf("ArticlePath read back as %q, %v", site, ok)
	}
	for _, p := range []string{"front/", "front/rss.xml", "front/articles/", "/articles/x/", "front/articles/x/index.html", ""} {
		if site, ok := ParseArticlePath(p); ok {
			t.Errorf("ParseArticlePath(%q) = %q, want not an article path", p, site)
		}
	}
}
