// Package config holds the settings of a Pressline process. Every setting
// is a command-line flag with a PRESSLINE_* environment variable behind it
// (the flag wins), and has a default that works for `pressline dev`.
// Loader.Load parses them once into the typed Config the process runs on,
// reading the files they name; every error says which setting is wrong
// and how to mend it. Check makes the same checks, with no side effects,
// on a Config built in code (tests build one from Default).
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/webhook"
)

// Config is every setting of a Pressline process, parsed.
type Config struct {
	NATSURL string // one URL, or several comma-separated
	// NATS credentials: a token, or a user and password (each service
	// its own in production; see deploy/nats).
	NATSToken, NATSUser, NATSPassword string

	S3Endpoint  string // host:port
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string
	S3Region    string
	S3Secure    bool

	HTTPAddr string // ingest API
	SiteAddr string // published site, served by `pressline dev`
	OpsAddr  string // /metrics, /healthz, /readyz
	SiteURL  string // public base URL of published pages
	DataDir  string // `pressline dev`: where embedded servers keep data

	// Newsrooms that may send articles, from --newsrooms and
	// --newsrooms-file together.
	Newsrooms []Newsroom
	// SiteReaders may read one site's events through the content API
	// (GET /v1/sites/{site}/changes), from --site-tokens.
	SiteReaders []SiteReader
	// Operators manage what is the system's, not a newsroom's (the
	// webhooks API), from --operator-tokens.
	Operators []Operator

	InlineLimit  int   // content above this goes by S3 key between stages
	MaxBodyBytes int64 // largest article ingest accepts
	// Multipart submissions: whole request, images per article, bytes per image.
	MaxRequestBytes int64
	MaxImages       int
	MaxImageBytes   int64
	// MaxArticleImages is the most images one article gets renditions
	// for, from any input.
	MaxArticleImages int
	// Each HTTP server: connections served at once, and the slowest a
	// request body may arrive (bytes a second, after a grace of 10 s).
	MaxConnections int
	MinBodyRate    int64
	RatePerSecond  float64 // writes per newsroom per second; 0 for no limit
	RateBurst      int
	Workers        int // concurrent messages per stage
	MaxAttempts    int // deliveries before a dead letter
	AckWait        time.Duration
	Replicas       int  // stream replicas
	SyncAlways     bool // `pressline dev`: fsync every JetStream write
	// TimeZone is the newsroom's zone for times written without one, an
	// IANA name.
	TimeZone string
	// HouseRules are the newsroom's cleaning rules (--house-rules); use
	// Cleaning, which fills in the zone.
	HouseRules cleaner.HouseRules
	// FetchAllow are the non-public networks image and feed fetching and
	// webhooks may reach.
	FetchAllow   []netip.Prefix
	ImageFormats []string // webp, jpeg, avif
	ImageWidths  []int
	// ImageMemory bounds, by estimate, the memory of the images one
	// process decodes at once (imaging.Config.MemoryBudget).
	ImageMemory int64
	LogFormat   string // json or text

	// OTLPEndpoint is the OTLP/HTTP collector spans go to; empty keeps
	// them in the process (their ids still reach logs and statuses).
	OTLPEndpoint string
	// ServiceName names the process in traces.
	ServiceName string

	// Webhooks are the subscribers of --webhooks-file.
	Webhooks []Webhook
	// WebhookLogRetention is how long every delivery attempt is kept.
	WebhookLogRetention time.Duration
	// FeedSize is how many of a site's newest articles its index and
	// feeds list.
	FeedSize int
}

// Default is the configuration of `pressline dev` on one machine.
func Default() Config {
	return Config{
		NATSURL:    "nats://127.0.0.1:4222",
		S3Endpoint: "127.0.0.1:9000", S3Bucket: "pressline", S3Region: "us-east-1",
		HTTPAddr: "127.0.0.1:8080", SiteAddr: "127.0.0.1:8081", OpsAddr: "127.0.0.1:9464",
		SiteURL: "http://127.0.0.1:8081", DataDir: "data",
		InlineLimit: 256 << 10, MaxBodyBytes: 10 << 20, MaxRequestBytes: 200 << 20, MaxImages: 20, MaxImageBytes: 50 << 20, MaxArticleImages: 100,
		MaxConnections: 2048, MinBodyRate: 16 << 10,
		RatePerSecond: 50, RateBurst: 200,
		Workers: runtime.GOMAXPROCS(0), MaxAttempts: 10, AckWait: 30 * time.Second, WebhookLogRetention: 7 * 24 * time.Hour, Replicas: 1, SyncAlways: true,
		TimeZone:     "Asia/Ho_Chi_Minh",
		ImageFormats: []string{"webp", "jpeg"}, ImageWidths: []int{320, 640, 1024, 1600, 2048}, ImageMemory: 768 << 20,
		LogFormat: "json", ServiceName: "pressline", FeedSize: 100,
	}
}

// Cleaning is the house rules with the newsroom's zone where the rules
// name none (the rules' own zone wins).
func (c *Config) Cleaning() cleaner.HouseRules {
	r := c.HouseRules
	if r.TimeZone == "" {
		r.TimeZone = c.TimeZone
	}
	return r
}

// Webhook is a downstream subscriber told of publications by signed HTTP
// POSTs.
type Webhook struct {
	Name   string
	URL    string
	Secret webhook.Secret
	Sites  []string      // empty: every site
	Events []events.Kind // empty: all
	// Schedule, when set, is the wait before each retry in turn, after
	// which a delivery becomes a dead letter (StandardSchedule unless the
	// subscriber asks for another, or for back-off).
	Schedule []time.Duration
	// Otherwise Deadline is how long a delivery is retried before it
	// becomes a dead letter; MinBackoff and MaxBackoff bound the waits
	// between.
	Deadline, MinBackoff, MaxBackoff time.Duration
	// Disabled: nothing is delivered to it, for the reason given.
	Disabled       bool
	DisabledReason string
	// Since is where its deliveries begin; zero: the stream's start.
	Since time.Time
	// Previous, until PreviousUntil, also signs every request: a
	// rotated secret's overlap, so receivers can switch without missing
	// a delivery.
	Previous      webhook.Secret
	PreviousUntil time.Time
	// DisableAfter: a subscriber with no delivery succeeding for this
	// long is disabled; zero: never (WebhookSpec's default is
	// DefaultDisableAfter).
	DisableAfter time.Duration
}

// Secrets are the secrets that sign a request sent at now: the current
// one, and the previous one during a rotation's overlap.
func (w Webhook) Secrets(now time.Time) []webhook.Secret {
	if len(w.Previous) > 0 && now.Before(w.PreviousUntil) {
		return []webhook.Secret{w.Secret, w.Previous}
	}
	return []webhook.Secret{w.Secret}
}

// StandardSchedule is the retry schedule Standard Webhooks gives as its
// example (and Svix uses): after the first attempt, 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h and 10 h, eight attempts over about 27.6 hours.
var StandardSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// maxSchedule bounds a subscriber's own retry schedule.
const maxSchedule = 20

// DefaultDisableAfter is how long a subscriber may fail before it is
// disabled, as Svix does.
const DefaultDisableAfter = 5 * 24 * time.Hour

// Spec is the subscriber as written, as WebhookSpec reads it back.
func (w Webhook) Spec() WebhookSpec {
	spec := WebhookSpec{Name: w.Name, URL: w.URL, Secret: w.Secret.Text(), Sites: w.Sites,
		Disabled: w.Disabled, DisabledReason: w.DisabledReason}
	if len(w.Schedule) > 0 {
		for _, d := range w.Schedule {
			spec.RetrySchedule = append(spec.RetrySchedule, d.String())
		}
	} else {
		spec.Deadline, spec.MinBackoff, spec.MaxBackoff = w.Deadline.String(), w.MinBackoff.String(), w.MaxBackoff.String()
	}
	if w.DisableAfter > 0 {
		spec.DisableAfter = w.DisableAfter.String()
	}
	if !w.Since.IsZero() {
		since := w.Since
		spec.Created = &since
	}
	if len(w.Previous) > 0 {
		until := w.PreviousUntil
		spec.PreviousSecret, spec.PreviousUntil = w.Previous.Text(), &until
	}
	for _, k := range w.Events {
		spec.Events = append(spec.Events, string(k))
	}
	return spec
}

// Newsroom is a sender of articles and the sites it publishes to. Only a
// hash of its token is kept.
type Newsroom struct {
	Name      string
	TokenHash [sha256.Size]byte
	Sites     []string
	Feeds     []Feed // polled for articles (newsrooms file only)
}

// Operator holds an operator's API token. Only its hash is kept.
type Operator struct {
	TokenHash [sha256.Size]byte
}

// ParseOperatorTokens reads tokens separated by spaces.
func ParseOperatorTokens(spec string) ([]Operator, error) {
	var out []Operator
	for i, token := range strings.Fields(spec) {
		if len(token) < 16 {
			return nil, fmt.Errorf("token %d is shorter than 16 characters", i+1)
		}
		out = append(out, Operator{TokenHash: HashToken(token)})
	}
	return out, nil
}

// ValidName reports whether s may name a site, a newsroom or a webhook
// subscriber: it becomes part of subjects, keys and URLs.
func ValidName(s string) bool { return name.MatchString(s) }

// SiteReader is a downstream site's read token for one site. Only a hash
// of the token is kept.
type SiteReader struct {
	Site      string
	TokenHash [sha256.Size]byte
}

// Feed is an RSS or Atom feed a newsroom publishes, polled every Every.
type Feed struct {
	URL   string
	Every time.Duration
}

// HashToken is how tokens are stored and compared.
func HashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// EnvName is the environment variable behind a flag.
func EnvName(flagName string) string {
	return "PRESSLINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Loader holds a command's flags until they are parsed.
type Loader struct {
	fs  *flag.FlagSet
	cfg Config // the settings that need no parsing beyond the flag's own
	// The settings that are parsed, or name files, as written.
	newsrooms, newsroomsFile, houseRules, fetchAllow, siteTokens, operatorTokens string
	imageFormats, imageWidths, webhooksFile                                      string
	envErrs                                                                      []error
}

// Bind defines every setting's flag on fs, with its default taken from
// the environment where set.
func Bind(fs *flag.FlagSet) *Loader {
	d := Default()
	l := &Loader{fs: fs}
	c := &l.cfg
	b := binder{fs: fs}
	b.str(&c.NATSURL, "nats-url", d.NATSURL, "NATS server URL(s), comma-separated")
	b.str(&c.NATSToken, "nats-token", "", "NATS authentication token")
	b.str(&c.NATSUser, "nats-user", "", "NATS user (with --nats-password)")
	b.str(&c.NATSPassword, "nats-password", "", "NATS password")
	b.str(&c.S3Endpoint, "s3-endpoint", d.S3Endpoint, "S3 endpoint as host:port")
	b.str(&c.S3AccessKey, "s3-access-key", "", "S3 access key (required)")
	b.str(&c.S3SecretKey, "s3-secret-key", "", "S3 secret key (required)")
	b.str(&c.S3Bucket, "s3-bucket", d.S3Bucket, "S3 bucket for originals and published output")
	b.str(&c.S3Region, "s3-region", d.S3Region, "S3 region")
	b.boolean(&c.S3Secure, "s3-secure", false, "use https for S3")
	b.str(&c.HTTPAddr, "http-addr", d.HTTPAddr, "ingest API listen address")
	b.str(&c.SiteAddr, "site-addr", d.SiteAddr, "published site listen address (pressline dev)")
	b.str(&c.OpsAddr, "ops-addr", d.OpsAddr, "metrics and health listen address")
	b.str(&c.SiteURL, "site-url", d.SiteURL, "public base URL of published pages")
	b.str(&c.DataDir, "data-dir", d.DataDir, "where pressline dev keeps NATS and S3 data")
	b.str(&l.newsrooms, "newsrooms", "", "newsrooms as name:token:site[,site] separated by spaces")
	b.str(&l.siteTokens, "site-tokens", "", "downstream sites' read tokens for the content API, as site:token separated by spaces")
	b.str(&l.operatorTokens, "operator-tokens", "", "operators' API tokens (the webhooks API), separated by spaces")
	b.str(&l.newsroomsFile, "newsrooms-file", "", `JSON file of newsrooms: [{"name": "…", "token_sha256": "<hex>", "sites": ["…"]}] (pressline token makes one)`)
	b.integer(&c.InlineLimit, "inline-limit", d.InlineLimit, "bytes of content carried inside an event; more goes by S3 key")
	b.int64(&c.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "largest article body ingest accepts, in bytes")
	b.int64(&c.MaxRequestBytes, "max-request-bytes", d.MaxRequestBytes, "largest multipart request (article and images), in bytes")
	b.integer(&c.MaxImages, "max-images", d.MaxImages, "most images sent with one article")
	b.int64(&c.MaxImageBytes, "max-image-bytes", d.MaxImageBytes, "largest image file, in bytes")
	b.integer(&c.MaxArticleImages, "max-article-images", d.MaxArticleImages, "most images one article gets renditions for, from any input; the rest are left out with a warning")
	b.integer(&c.MaxConnections, "max-connections", d.MaxConnections, "connections each HTTP server serves at once; more wait to be accepted")
	b.int64(&c.MinBodyRate, "min-body-rate", d.MinBodyRate, "slowest a request body may arrive after its first 10 s, in bytes a second (0: no limit)")
	b.float(&c.RatePerSecond, "rate-per-second", d.RatePerSecond, "submissions and withdrawals a newsroom may send per second, on average (0: no limit)")
	b.integer(&c.RateBurst, "rate-burst", d.RateBurst, "submissions a newsroom may send at once before the rate applies")
	b.integer(&c.Workers, "workers", d.Workers, "messages handled concurrently per stage")
	b.integer(&c.MaxAttempts, "max-attempts", d.MaxAttempts, "deliveries of a message before it becomes a dead letter (10: 1.5 to 3 minutes of back-off, so a short S3 or NATS outage is waited out)")
	b.duration(&c.AckWait, "ack-wait", d.AckWait, "time a delivery may go unacknowledged before redelivery")
	b.integer(&c.Replicas, "replicas", d.Replicas, "JetStream stream replicas (3 in a cluster)")
	b.boolean(&c.SyncAlways, "sync-always", d.SyncAlways, "pressline dev: fsync every JetStream write (an acknowledged article survives a power cut)")
	b.str(&c.TimeZone, "timezone", d.TimeZone, "newsroom time zone for times written without one")
	b.str(&l.houseRules, "house-rules", "", "JSON file of the newsroom's house rules for cleaning (debris patterns, date formats, sections, typos)")
	b.str(&l.webhooksFile, "webhooks-file", "", `JSON file of webhook subscribers: [{"name": "…", "url": "https://…", "secret": "whsec_…", "sites": ["…"], "events": ["published"], "deadline": "24h"}]`)
	b.duration(&c.WebhookLogRetention, "webhook-log-retention", d.WebhookLogRetention, "how long every webhook delivery attempt is kept, to read and redeliver from (GET /v1/webhooks/{name}/attempts)")
	b.str(&c.OTLPEndpoint, "otlp-endpoint", "", "OpenTelemetry collector (OTLP over HTTP) for traces, e.g. http://otel-collector:4318; empty: traces are not exported")
	b.str(&c.ServiceName, "service-name", d.ServiceName, "the process's name in traces")
	b.integer(&c.FeedSize, "feed-size", d.FeedSize, "how many of a site's newest articles its index page and feeds list")
	b.str(&l.fetchAllow, "fetch-allow", "", "non-public networks image fetching may reach, comma-separated CIDRs (e.g. 10.0.0.0/8); loopback, private and metadata addresses are refused otherwise")
	b.str(&l.imageWidths, "image-widths", joinInts(d.ImageWidths), "rendition widths in pixels, comma-separated; a source is never enlarged")
	b.int64(&c.ImageMemory, "image-memory", d.ImageMemory, "the most memory, by estimate, the images one process decodes at once may take, in bytes (a 50 MP progressive JPEG is about 330 MB; one over it runs alone); 0 for no bound")
	b.str(&l.imageFormats, "image-formats", strings.Join(d.ImageFormats, ","), "rendition formats: webp, jpeg, avif (avif is slow)")
	b.str(&c.LogFormat, "log-format", d.LogFormat, "log format: json or text")
	l.envErrs = b.errs
	return l
}

// Given reports whether a setting was given, as a flag or in its
// environment variable, rather than left to its default.
func (l *Loader) Given(name string) bool {
	if _, ok := os.LookupEnv(EnvName(name)); ok {
		return true
	}
	given := false
	l.fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// Load parses the flags, once fs has read them, and checks the result.
// needS3Creds is false for `pressline dev`, which makes its own
// credentials.
func (l *Loader) Load(needS3Creds bool) (*Config, error) {
	c := l.cfg
	errs := append([]error(nil), l.envErrs...)
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, settingError(flagName, format, args...))
	}
	newsrooms, err := ParseNewsrooms(l.newsrooms)
	if err != nil {
		bad("newsrooms", "%v", err)
	}
	if l.newsroomsFile != "" {
		fromFile, err := ReadNewsrooms(l.newsroomsFile)
		if err != nil {
			bad("newsrooms-file", "%v", err)
		}
		for _, nr := range fromFile {
			if slices.ContainsFunc(newsrooms, func(o Newsroom) bool { return o.Name == nr.Name }) {
				bad("newsrooms-file", "newsroom %q is also in --newsrooms", nr.Name)
			}
		}
		newsrooms = append(newsrooms, fromFile...)
	}
	c.Newsrooms = newsrooms
	if c.SiteReaders, err = ParseSiteTokens(l.siteTokens); err != nil {
		bad("site-tokens", "%v", err)
	}
	if c.Operators, err = ParseOperatorTokens(l.operatorTokens); err != nil {
		bad("operator-tokens", "%v", err)
	}
	if l.houseRules != "" {
		if c.HouseRules, err = ReadHouseRules(l.houseRules); err != nil {
			bad("house-rules", "%v", err)
		}
	}
	if l.webhooksFile != "" {
		if c.Webhooks, err = ReadWebhooks(l.webhooksFile); err != nil {
			bad("webhooks-file", "%v", err)
		}
	}
	for _, p := range strings.Split(l.fetchAllow, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			bad("fetch-allow", "%q is not a network like 10.0.0.0/8", p)
			continue
		}
		c.FetchAllow = append(c.FetchAllow, prefix)
	}
	c.ImageFormats = nil
	for _, f := range strings.Split(l.imageFormats, ",") {
		c.ImageFormats = append(c.ImageFormats, strings.TrimSpace(f))
	}
	c.ImageWidths = nil
	for _, w := range strings.Split(l.imageWidths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			bad("image-widths", "%q is not a width from 16 to 8192 pixels", w)
			continue
		}
		c.ImageWidths = append(c.ImageWidths, n)
	}
	errs = append(errs, c.check(needS3Creds)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

func settingError(flagName, format string, args ...any) error {
	return fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, args...))
}

// Check checks every setting, naming each one that is wrong.
func (c *Config) Check(needS3Creds bool) error { return errors.Join(c.check(needS3Creds)...) }

func (c *Config) check(needS3Creds bool) []error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, settingError(flagName, format, args...))
	}
	for _, u := range strings.Split(c.NATSURL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err != nil || pu.Host == "" {
			bad("nats-url", "%q is not a URL like nats://host:4222", u)
		}
	}
	if _, _, err := net.SplitHostPort(c.S3Endpoint); err != nil {
		bad("s3-endpoint", "%q is not host:port (no scheme; use --s3-secure for https)", c.S3Endpoint)
	}
	if needS3Creds && c.S3AccessKey == "" {
		bad("s3-access-key", "required: the access key of the S3 (MinIO) user")
	}
	if needS3Creds && c.S3SecretKey == "" {
		bad("s3-secret-key", "required: the secret key of the S3 (MinIO) user")
	}
	if len(c.S3Bucket) < 3 || len(c.S3Bucket) > 63 || strings.ToLower(c.S3Bucket) != c.S3Bucket {
		bad("s3-bucket", "%q is not a valid bucket name (3-63 lower-case letters, digits, dots, hyphens)", c.S3Bucket)
	}
	for _, a := range []struct{ name, addr string }{{"http-addr", c.HTTPAddr}, {"site-addr", c.SiteAddr}, {"ops-addr", c.OpsAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			bad(a.name, "%q is not host:port", a.addr)
		}
	}
	if !isHTTPURL(c.SiteURL) {
		bad("site-url", "%q is not an http(s) URL", c.SiteURL)
	}
	if c.InlineLimit < 0 || c.InlineLimit > 512<<10 {
		bad("inline-limit", "%d is outside 0..524288 (NATS messages are limited to 1 MiB)", c.InlineLimit)
	}
	if c.MaxBodyBytes < 1 {
		bad("max-body-bytes", "%d must be positive", c.MaxBodyBytes)
	}
	if c.MaxRequestBytes < c.MaxBodyBytes {
		bad("max-request-bytes", "%d is smaller than --max-body-bytes (%d)", c.MaxRequestBytes, c.MaxBodyBytes)
	}
	if c.MaxImages < 0 || c.MaxImages > 1000 {
		bad("max-images", "%d is outside 0..1000", c.MaxImages)
	}
	if c.MaxArticleImages < 1 || c.MaxArticleImages > 10000 {
		bad("max-article-images", "%d is outside 1..10000", c.MaxArticleImages)
	}
	if c.MaxConnections < 1 {
		bad("max-connections", "%d must be positive", c.MaxConnections)
	}
	if c.MinBodyRate < 0 {
		bad("min-body-rate", "%d must be 0 or more", c.MinBodyRate)
	}
	if c.ImageMemory < 0 {
		bad("image-memory", "%d must be 0 or more", c.ImageMemory)
	}
	if c.MaxImageBytes < 1 {
		bad("max-image-bytes", "%d must be positive", c.MaxImageBytes)
	}
	if c.RatePerSecond < 0 {
		bad("rate-per-second", "%g must not be negative", c.RatePerSecond)
	}
	if c.RateBurst < 1 {
		bad("rate-burst", "%d must be at least 1", c.RateBurst)
	}
	if c.Workers < 1 || c.Workers > 1024 {
		bad("workers", "%d is outside 1..1024", c.Workers)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		bad("max-attempts", "%d is outside 1..100", c.MaxAttempts)
	}
	if c.AckWait < time.Second {
		bad("ack-wait", "%v is shorter than 1s", c.AckWait)
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		bad("replicas", "%d must be 1, 3 or 5", c.Replicas)
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		bad("timezone", "%q is not an IANA zone like Asia/Ho_Chi_Minh", c.TimeZone)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("log-format", "%q must be json or text", c.LogFormat)
	}
	if len(c.ImageFormats) == 0 {
		bad("image-formats", "name at least one of webp, jpeg, avif")
	}
	for _, f := range c.ImageFormats {
		if f != "webp" && f != "jpeg" && f != "avif" {
			bad("image-formats", "%q is not one of webp, jpeg, avif", f)
		}
	}
	for _, w := range c.ImageWidths {
		if w < 16 || w > 8192 {
			bad("image-widths", "%d is not a width from 16 to 8192 pixels", w)
		}
	}
	if c.OTLPEndpoint != "" && !isHTTPURL(c.OTLPEndpoint) {
		bad("otlp-endpoint", "%q is not an http(s) URL like http://otel-collector:4318", c.OTLPEndpoint)
	}
	if c.FeedSize < 1 || c.FeedSize > 1000 {
		bad("feed-size", "%d is not from 1 to 1000", c.FeedSize)
	}
	return errs
}

// isHTTPURL: an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ReadHouseRules reads a newsroom's rules file, refusing fields it does
// not know (a misspelt rule would otherwise be silently ignored).
func ReadHouseRules(path string) (cleaner.HouseRules, error) {
	var r cleaner.HouseRules
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// name keeps a site or a webhook subscriber usable in NATS subjects
// (pressline.site.<site>.…), consumer names, key-value keys and URL paths.
var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func checkSites(newsroom string, sites []string) error {
	for _, site := range sites {
		if !name.MatchString(site) {
			return fmt.Errorf("newsroom %q: site %q must be lower-case letters, digits, - and _ (it becomes part of subjects and URLs)", newsroom, site)
		}
	}
	return nil
}

// ReadWebhooks reads a webhooks file, a JSON list of WebhookSpec:
//
//	[{"name": "partner", "url": "https://…", "secret": "whsec_…",
//	  "sites": ["front"], "events": ["published", "updated", "withdrawn"],
//	  "deadline": "24h", "min_backoff": "1s", "max_backoff": "10m"}]
func ReadWebhooks(path string) ([]Webhook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []WebhookSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Webhook
	seen := map[string]bool{}
	for i, e := range entries {
		if seen[e.Name] {
			return nil, fmt.Errorf("%s: entry %d: name %q is repeated", path, i+1, e.Name)
		}
		seen[e.Name] = true
		w, err := e.Webhook()
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", path, i+1, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// WebhookSpec is a webhook subscriber as written: an entry of
// --webhooks-file, the body of the API's /v1/webhooks, and what the
// subscribers' bucket keeps.
type WebhookSpec struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Secret string   `json:"secret,omitempty"`
	Sites  []string `json:"sites,omitempty"`
	Events []string `json:"events,omitempty"`
	// RetrySchedule is the wait before each retry, as Go durations;
	// StandardSchedule when it and the back-off fields are all empty.
	RetrySchedule []string `json:"retry_schedule,omitempty"`
	// Deadline, MinBackoff and MaxBackoff retry with a doubling back-off
	// instead (24h, 1s and 10m for those of them left empty).
	Deadline   string `json:"deadline,omitempty"`
	MinBackoff string `json:"min_backoff,omitempty"`
	MaxBackoff string `json:"max_backoff,omitempty"`
	// Disabled stops deliveries (kept for when it is enabled again);
	// DisabledReason says why, for operators.
	Disabled       bool   `json:"disabled,omitempty"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Created, set by the API, is when deliveries begin: a subscriber is
	// told of what is published from then on. Empty (--webhooks-file):
	// of everything the sites' stream holds.
	Created *time.Time `json:"created,omitempty"`
	// PreviousSecret also signs until PreviousUntil: a rotation's
	// overlap (POST /v1/webhooks/{name}/rotate).
	PreviousSecret string     `json:"previous_secret,omitempty"`
	PreviousUntil  *time.Time `json:"previous_until,omitempty"`
	// DisableAfter: with no delivery succeeding for this long, the
	// subscriber is disabled (120h when empty).
	DisableAfter string `json:"disable_after,omitempty"`
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// FieldError is a setting that is wrong, naming its field.
type FieldError struct {
	Field, Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Webhook checks the spec and makes the subscriber it describes, with
// the defaults for what it leaves out (the Standard Webhooks retry
// schedule; or, with any of deadline and back-off given, a 24 h deadline
// and back-off from 1 s to 10 min). A wrong field is a *FieldError.
func (e WebhookSpec) Webhook() (Webhook, error) {
	bad := func(field, format string, args ...any) (Webhook, error) {
		return Webhook{}, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	if !name.MatchString(e.Name) {
		return bad("name", "%q must be lower-case letters, digits, - and _", e.Name)
	}
	if !isHTTPURL(e.URL) {
		return bad("url", "webhook %q: %q is not an http(s) URL", e.Name, e.URL)
	}
	w := Webhook{Name: e.Name, URL: e.URL, Sites: e.Sites, Disabled: e.Disabled, DisabledReason: e.DisabledReason, Since: timeOf(e.Created),
		Deadline: 24 * time.Hour, MinBackoff: time.Second, MaxBackoff: 10 * time.Minute, DisableAfter: DefaultDisableAfter}
	for _, site := range e.Sites {
		if !name.MatchString(site) {
			return bad("sites", "webhook %q: site %q must be lower-case letters, digits, - and _", e.Name, site)
		}
	}
	for _, ev := range e.Events {
		k, err := events.ParseKind(ev)
		if err != nil {
			return bad("events", "webhook %q: %v", e.Name, err)
		}
		w.Events = append(w.Events, k)
	}
	for _, d := range []struct {
		field, v string
		p        *time.Duration
	}{{"deadline", e.Deadline, &w.Deadline}, {"min_backoff", e.MinBackoff, &w.MinBackoff}, {"max_backoff", e.MaxBackoff, &w.MaxBackoff},
		{"disable_after", e.DisableAfter, &w.DisableAfter}} {
		if d.v == "" {
			continue
		}
		var err error
		if *d.p, err = time.ParseDuration(d.v); err != nil || *d.p <= 0 {
			return bad(d.field, "webhook %q: %q is not a positive duration like 30s or 24h", e.Name, d.v)
		}
	}
	if w.MaxBackoff < w.MinBackoff {
		return bad("max_backoff", "webhook %q: %s is below min_backoff %s", e.Name, w.MaxBackoff, w.MinBackoff)
	}
	backoff := e.Deadline != "" || e.MinBackoff != "" || e.MaxBackoff != ""
	switch {
	case len(e.RetrySchedule) > 0 && backoff:
		return bad("retry_schedule", "webhook %q: give a retry schedule or deadline and back-off, not both", e.Name)
	case len(e.RetrySchedule) > maxSchedule:
		return bad("retry_schedule", "webhook %q: %d retries is over the limit of %d", e.Name, len(e.RetrySchedule), maxSchedule)
	case len(e.RetrySchedule) > 0:
		for _, v := range e.RetrySchedule {
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond || d > 24*time.Hour {
				return bad("retry_schedule", "webhook %q: %q is not a wait from 100ms to 24h, like 5m", e.Name, v)
			}
			w.Schedule = append(w.Schedule, d)
		}
	case !backoff:
		w.Schedule = StandardSchedule
	}
	if len(w.Schedule) > 0 {
		w.Deadline, w.MinBackoff, w.MaxBackoff = 0, 0, 0 // the schedule's end is the deadline
	}
	var err error
	if w.Secret, err = webhook.ParseSecret(e.Secret); err != nil {
		return bad("secret", "webhook %q: %v", e.Name, err)
	}
	if e.PreviousSecret != "" {
		if w.Previous, err = webhook.ParseSecret(e.PreviousSecret); err != nil {
			return bad("previous_secret", "webhook %q: %v", e.Name, err)
		}
		if e.PreviousUntil == nil {
			return bad("previous_until", "webhook %q: a previous secret needs the time it stops signing", e.Name)
		}
		w.PreviousUntil = *e.PreviousUntil
	}
	return w, nil
}

// ParseSiteTokens reads "site:token ..." entries.
func ParseSiteTokens(spec string) ([]SiteReader, error) {
	var out []SiteReader
	for i, entry := range strings.Fields(spec) {
		site, token, ok := strings.Cut(entry, ":")
		if !ok || site == "" || token == "" {
			// No entry is quoted: it may be a bare token.
			return nil, fmt.Errorf("entry %d is not site:token", i+1)
		}
		if !name.MatchString(site) {
			return nil, fmt.Errorf("site %q must be lower-case letters, digits, - and _", site)
		}
		if len(token) < 16 {
			return nil, fmt.Errorf("site %q: token shorter than 16 characters", site)
		}
		out = append(out, SiteReader{Site: site, TokenHash: HashToken(token)})
	}
	return out, nil
}

// ParseNewsrooms reads "name:token:site[,site] ..." entries.
func ParseNewsrooms(spec string) ([]Newsroom, error) {
	var out []Newsroom
	seen := map[string]bool{}
	for _, entry := range strings.Fields(spec) {
		parts := strings.Split(entry, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("entry %q is not name:token:site[,site]", redact(entry))
		}
		if seen[parts[0]] {
			return nil, fmt.Errorf("newsroom %q is listed twice", parts[0])
		}
		seen[parts[0]] = true
		if len(parts[1]) < 16 {
			return nil, fmt.Errorf("newsroom %q: token shorter than 16 characters", parts[0])
		}
		sites := strings.Split(parts[2], ",")
		if err := checkSites(parts[0], sites); err != nil {
			return nil, err
		}
		out = append(out, Newsroom{Name: parts[0], TokenHash: HashToken(parts[1]), Sites: sites})
	}
	return out, nil
}

// ReadNewsrooms reads a newsrooms file. Tokens are kept there only as
// SHA-256 hashes, so the file can be read without revealing them.
func ReadNewsrooms(path string) ([]Newsroom, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Name        string   `json:"name"`
		TokenSHA256 string   `json:"token_sha256"`
		Sites       []string `json:"sites"`
		Feeds       []struct {
			URL   string `json:"url"`
			Every string `json:"every"`
		} `json:"feeds"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Newsroom
	seen := map[string]bool{}
	for i, e := range entries {
		h, err := hex.DecodeString(e.TokenSHA256)
		switch {
		case e.Name == "" || seen[e.Name]:
			return nil, fmt.Errorf("%s: entry %d: name missing or repeated", path, i+1)
		case err != nil || len(h) != sha256.Size:
			return nil, fmt.Errorf("%s: newsroom %q: token_sha256 is not 64 hex digits (pressline token prints one)", path, e.Name)
		case len(e.Sites) == 0:
			return nil, fmt.Errorf("%s: newsroom %q publishes to no site", path, e.Name)
		}
		if err := checkSites(e.Name, e.Sites); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		seen[e.Name] = true
		nr := Newsroom{Name: e.Name, Sites: e.Sites}
		for _, f := range e.Feeds {
			if !isHTTPURL(f.URL) {
				return nil, fmt.Errorf("%s: newsroom %q: feed %q is not an http(s) URL", path, e.Name, f.URL)
			}
			every := 5 * time.Minute
			if f.Every != "" {
				var err error
				if every, err = time.ParseDuration(f.Every); err != nil || every < 10*time.Second {
					return nil, fmt.Errorf("%s: newsroom %q: feed every %q is not a duration of 10s or more", path, e.Name, f.Every)
				}
			}
			nr.Feeds = append(nr.Feeds, Feed{URL: f.URL, Every: every})
		}
		copy(nr.TokenHash[:], h)
		out = append(out, nr)
	}
	return out, nil
}

func redact(entry string) string {
	if i := strings.Index(entry, ":"); i >= 0 {
		if j := strings.Index(entry[i+1:], ":"); j >= 0 {
			return entry[:i+1] + "***" + entry[i+1+j:]
		}
	}
	return entry
}

type binder struct {
	fs   *flag.FlagSet
	errs []error
}

func (b *binder) env(name string) (string, bool) {
	return os.LookupEnv(EnvName(name))
}

func (b *binder) usage(name, usage string) string {
	return usage + " [$" + EnvName(name) + "]"
}

func (b *binder) str(p *string, name, def, usage string) {
	if v, ok := b.env(name); ok {
		def = v
	}
	b.fs.StringVar(p, name, def, b.usage(name, usage))
}

func (b *binder) boolean(p *bool, name string, def bool, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.ParseBool(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want true or false", EnvName(name), v))
		} else {
			def = parsed
		}
	}
	b.fs.BoolVar(p, name, def, b.usage(name, usage))
}

func (b *binder) integer(p *int, name string, def int, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.Atoi(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want a whole number", EnvName(name), v))
		} else {
			def = parsed
		}
	}
	b.fs.IntVar(p, name, def, b.usage(name, usage))
}

func (b *binder) int64(p *int64, name string, def int64, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want a whole number", EnvName(name), v))
		} else {
			def = parsed
		}
	}
	b.fs.Int64Var(p, name, def, b.usage(name, usage))
}

func (b *binder) float(p *float64, name string, def float64, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want a number", EnvName(name), v))
		} else {
			def = parsed
		}
	}
	b.fs.Float64Var(p, name, def, b.usage(name, usage))
}

func (b *binder) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := time.ParseDuration(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want a duration like 30s", EnvName(name), v))
		} else {
			def = parsed
		}
	}
	b.fs.DurationVar(p, name, def, b.usage(name, usage))
}
