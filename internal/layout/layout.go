// Package layout is where Pressline keeps things: every S3 key of an
// article version and of what is published, and every NATS stream and
// subject. It is the one place these names are spelt; the services ask it
// and never build a key or a subject themselves.
//
// The site events downstream sites read are a public contract and are
// spelt by pkg/events; layout names them through it.
//
// In S3:
//
//	originals/<id>/v<n>/article            the original, exactly as sent
//	originals/<id>/v<n>/files/<name>       files sent with it
//	articles/<id>/v<n>/cleaned.json        the cleaned article, for editors
//	articles/<id>/v<n>/cleaned.pb          claim checks between stages,
//	articles/<id>/v<n>/media.pb              when an article is too large to travel inline
//	public/<site>/articles/<slug>-<id>/    index.html, ninjs.json
//	public/<site>/                         index.html, rss.xml, atom.xml, feed.json, sitemap-news.xml
//	public/media/<sha256>/                 <width>.<format> renditions, media.json
//
// No key is a prefix of another: storage that maps keys to files and
// folders (the embedded server) cannot hold both "v1" and "v1/files/x".
package layout

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/pressline/pressline/pkg/events"
)

// Streams.
const (
	// StreamArticles carries articles from stage to stage.
	StreamArticles = "PRESSLINE_ARTICLES"
	// StreamSites keeps every site's events for downstream sites, and
	// the replays meant for one webhook subscriber.
	StreamSites = events.Stream
	// StreamDeadLetter keeps what a stage gave up on.
	StreamDeadLetter = "PRESSLINE_DEADLETTER"
	// StreamReady holds each process's last readiness write: /readyz
	// stores one small message there to show that JetStream can write,
	// not only answer.
	StreamReady = "PRESSLINE_READY"
	// StreamWebhookLog keeps every webhook delivery attempt for the
	// retention operators set (7 days by default).
	StreamWebhookLog = "PRESSLINE_WEBHOOK_LOG"
)

const (
	articlePrefix    = "pressline.article."
	webhookPrefix    = "pressline.webhook."
	deadLetterPrefix = "pressline.deadletter."
	readyPrefix      = "pressline.ready."
	webhookLogPrefix = "pressline.webhooklog."
)

// ReadySubject is where the process named instance writes its readiness
// probe; ReadyAll covers every process's.
func ReadySubject(instance string) string { return readyPrefix + instance }

// ReadyAll is every process's readiness subject.
const ReadyAll = readyPrefix + "*"

// Subjects of the article chain, each one stage's output and the next
// one's input.
const (
	SubjectReceived = articlePrefix + "received" // ingest -> clean
	SubjectCleaned  = articlePrefix + "cleaned"  // clean -> imageproc
)

// Publish's input is partitioned by article id, so that any number of
// publish processes handle each article's messages one at a time and in
// order (see PublishSubjects). A message for publish goes to
// MediaReadySubject(id) (imageproc -> publish) or WithdrawSubject(id)
// (ingest -> publish: take the article down everywhere).
//
// PublishPartitions is how many partitions there are: at most that many
// articles are published at once, over all processes. Changing it moves
// articles to other partitions, so publish must have drained first.
const PublishPartitions = 16

const (
	mediaReadyPrefix = articlePrefix + "media_ready."
	withdrawPrefix   = articlePrefix + "withdraw."
)

// PublishPartition is the partition of an article: FNV-1a of its id.
func PublishPartition(articleID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(articleID))
	return int(h.Sum32() % PublishPartitions)
}

// MediaReadySubject is where an article's version ready to publish goes.
func MediaReadySubject(articleID string) string {
	return mediaReadyPrefix + strconv.Itoa(PublishPartition(articleID))
}

// WithdrawSubject is where a withdrawal of the article goes.
func WithdrawSubject(articleID string) string {
	return withdrawPrefix + strconv.Itoa(PublishPartition(articleID))
}

// MediaReadyAll and WithdrawAll are every partition's subjects of each
// kind, for NATS permissions.
const (
	MediaReadyAll = mediaReadyPrefix + "*"
	WithdrawAll   = withdrawPrefix + "*"
)

// IsWithdraw reports whether subject carries a withdrawal.
func IsWithdraw(subject string) bool { return strings.HasPrefix(subject, withdrawPrefix) }

// PublishSubjects are the subjects of partition p, the filter of its
// consumer: both kinds of message, so a withdrawal is never handled
// before the version it takes down.
func PublishSubjects(p int) []string {
	return []string{mediaReadyPrefix + strconv.Itoa(p), withdrawPrefix + strconv.Itoa(p)}
}

// StreamSubjects are the subjects a stream holds.
func StreamSubjects(stream string) []string {
	switch stream {
	case StreamArticles:
		return []string{articlePrefix + ">"}
	case StreamSites:
		return []string{events.AllSites, webhookPrefix + ">"}
	case StreamDeadLetter:
		return []string{deadLetterPrefix + ">"}
	case StreamReady:
		return []string{readyPrefix + ">"}
	case StreamWebhookLog:
		return []string{webhookLogPrefix + ">"}
	}
	return nil
}

// StreamOf is the stream that holds subject; "" for none.
func StreamOf(subject string) string {
	switch {
	case strings.HasPrefix(subject, articlePrefix):
		return StreamArticles
	case strings.HasPrefix(subject, webhookPrefix):
		return StreamSites
	case strings.HasPrefix(subject, deadLetterPrefix):
		return StreamDeadLetter
	case strings.HasPrefix(subject, readyPrefix):
		return StreamReady
	case strings.HasPrefix(subject, webhookLogPrefix):
		return StreamWebhookLog
	}
	if _, _, ok := events.ParseSiteSubject(subject); ok {
		return StreamSites
	}
	return ""
}

// SiteSubject is where publish announces a kind of event on a site.
func SiteSubject(site string, k events.Kind) string { return events.SiteSubject(site, k) }

// WebhookSubject is where replayed deliveries for one webhook subscriber
// go; no downstream site consumes it.
func WebhookSubject(subscriber string) string { return webhookPrefix + subscriber }

// WebhookLogSubject is where an attempt to deliver the webhook whose
// webhook-id is id to subscriber is recorded; WebhookLogFilter(subscriber)
// covers all of that subscriber's.
func WebhookLogSubject(subscriber, id string) string {
	return webhookLogPrefix + subscriber + "." + id
}

// WebhookLogFilter covers a subscriber's delivery attempts; the empty
// name covers everyone's.
func WebhookLogFilter(subscriber string) string {
	if subscriber == "" {
		return webhookLogPrefix + ">"
	}
	return webhookLogPrefix + subscriber + ".*"
}

// DeadLetterSubject is where a stage's dead letters go.
func DeadLetterSubject(stage string) string { return deadLetterPrefix + stage }

// DeadLetterSubjects is the filter of every stage's dead letters.
const DeadLetterSubjects = deadLetterPrefix + ">"

// DeadLetterStage is the stage a dead-letter subject belongs to.
func DeadLetterStage(subject string) string { return strings.TrimPrefix(subject, deadLetterPrefix) }

// OriginalsPrefix is where originals are kept, by article id: ids are
// ULIDs, so a listing from a given id on is a listing from a time on.
const OriginalsPrefix = "originals/"

func versionPrefix(top, id string, version uint32) string {
	return top + id + "/v" + strconv.FormatUint(uint64(version), 10) + "/"
}

// Original is the key of an article version exactly as it was sent.
func Original(id string, version uint32) string {
	return versionPrefix(OriginalsPrefix, id, version) + "article"
}

// UploadsPrefix is where the files sent with an article version are kept.
func UploadsPrefix(id string, version uint32) string {
	return versionPrefix(OriginalsPrefix, id, version) + "files/"
}

// Upload is the key of a file sent with an article version.
func Upload(id string, version uint32, name string) string {
	return UploadsPrefix(id, version) + name
}

// ParseOriginal reads an original's key; ok is false for any other key.
func ParseOriginal(key string) (id string, version uint32, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0]+"/" != OriginalsPrefix || parts[3] != "article" || !strings.HasPrefix(parts[2], "v") {
		return "", 0, false
	}
	v, err := strconv.ParseUint(parts[2][1:], 10, 32)
	if err != nil || v == 0 || parts[1] == "" {
		return "", 0, false
	}
	return parts[1], uint32(v), true
}

const articlesPrefix = "articles/"

// CleanedJSON is the cleaned article as JSON, the document an editor can
// fetch and compare with `pressline clean`.
func CleanedJSON(id string, version uint32) string {
	return versionPrefix(articlesPrefix, id, version) + "cleaned.json"
}

// CleanedClaim is where clean puts an article too large for its event.
func CleanedClaim(id string, version uint32) string {
	return versionPrefix(articlesPrefix, id, version) + "cleaned.pb"
}

// MediaClaim is where imageproc puts an article too large for its event.
func MediaClaim(id string, version uint32) string {
	return versionPrefix(articlesPrefix, id, version) + "media.pb"
}

// PublicPrefix is where everything readers may see is kept; a public base
// URL serves it (SiteURL + "/" + path is stored at PublicPrefix + path).
const PublicPrefix = "public/"

// Public is the key of a public path.
func Public(path string) string { return PublicPrefix + strings.TrimPrefix(path, "/") }

// PublicPath is the path a public key is served at; ok is false for a key
// that is not public.
func PublicPath(key string) (string, bool) { return strings.CutPrefix(key, PublicPrefix) }

// SitePath is the path of a site's home: "<site>/".
func SitePath(site string) string { return site + "/" }

// SiteFile is the key of one of a site's own files (its index page and
// feeds).
func SiteFile(site, name string) string { return Public(SitePath(site) + name) }

// ArticlePath is the path of an article's page on a site:
// "<site>/articles/<slug>-<id>/".
func ArticlePath(site, slugID string) string { return SitePath(site) + "articles/" + slugID + "/" }

// ArticlesPath is the path under which all a site's article pages are.
func ArticlesPath(site string) string { return SitePath(site) + "articles/" }

// ParseArticlePath reads the site of an article page's path (as
// ArticlePath writes it); ok is false for any other path.
func ParseArticlePath(path string) (site string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] != "articles" || parts[2] == "" {
		return "", false
	}
	return parts[0], true
}

// Names of an article page's files, beside each other under its path.
const (
	PageFile  = "index.html"
	NinjsFile = "ninjs.json"
)

// MediaPrefix is where image renditions are kept, by the source's hash,
// so one photo is processed once whatever articles use it.
const MediaPrefix = PublicPrefix + "media/"

// Media is the key of one file of a source image's renditions.
func Media(sha256, name string) string { return MediaPrefix + sha256 + "/" + name }

// heldPrefix keeps what may not be public yet: the renditions of photos
// of an article under embargo, until publish releases it.
const heldPrefix = "held/"

// Held is where a public key's file waits while its article is held.
func Held(key string) string { return heldPrefix + key }

// MediaIndex is the key of a source's media.json, written after its
// renditions: its presence means they are all stored.
func MediaIndex(sha256 string) string { return Media(sha256, "media.json") }
