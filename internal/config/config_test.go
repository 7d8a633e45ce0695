package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressline/pressline/pkg/events"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := Bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return l.Load(true)
}

func TestLoad(t *testing.T) {
	creds := []string{"--s3-access-key=a", "--s3-secret-key=b"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string // every one must appear
	}{
		{"defaults with credentials", nil, creds, nil},
		{"credentials from env", map[string]string{"PRESSLINE_S3_ACCESS_KEY": "a", "PRESSLINE_S3_SECRET_KEY": "b"}, nil, nil},
		{"missing credentials", nil, nil, []string{"--s3-access-key (PRESSLINE_S3_ACCESS_KEY): required", "--s3-secret-key"}},
		{"bad env number", map[string]string{"PRESSLINE_WORKERS": "many"}, creds, []string{`PRESSLINE_WORKERS="many": want a whole number`}},
		{"endpoint with scheme", nil, append([]string{"--s3-endpoint=http://minio:9000"}, creds...), []string{"--s3-endpoint"}},
		{"bad zone", nil, append([]string{"--timezone=Mars/Olympus"}, creds...), []string{"--timezone", "IANA"}},
		{"inline limit over NATS max", nil, append([]string{"--inline-limit=2000000"}, creds...), []string{"--inline-limit", "1 MiB"}},
		{"bad newsroom", nil, append([]string{"--newsrooms=onlyname"}, creds...), []string{"--newsrooms", "name:token:site"}},
		{"short token", nil, append([]string{"--newsrooms=a:short:site"}, creds...), []string{"shorter than 16"}},
		{"flag beats env", map[string]string{"PRESSLINE_REPLICAS": "2"}, append([]string{"--replicas=3"}, creds...), nil},
		{"bad replicas", map[string]string{"PRESSLINE_REPLICAS": "2"}, creds, []string{"--replicas", "must be 1, 3 or 5"}},
		{"bad width", nil, append([]string{"--image-widths=320,huge,9000"}, creds...), []string{`--image-widths (PRESSLINE_IMAGE_WIDTHS): "huge"`, "9000 is not a width"}},
		{"bad format", nil, append([]string{"--image-formats=webp,gif"}, creds...), []string{`"gif" is not one of`}},
		{"bad network", nil, append([]string{"--fetch-allow=10.0.0.0/8,intranet"}, creds...), []string{"--fetch-allow", `"intranet"`}},
		{"missing house rules", nil, append([]string{"--house-rules=/nonexistent/rules.json"}, creds...), []string{"--house-rules", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.env, tt.args...)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// The typed values come out of Load parsed, and Default passes Check: a
// Config built in code starts from what the flags default to.
func TestTypedValues(t *testing.T) {
	c, err := parse(t, nil, "--s3-access-key=a", "--s3-secret-key=b", "--fetch-allow=10.0.0.0/8, 192.168.1.0/24", "--image-widths=640, 1280")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.FetchAllow) != 2 || c.FetchAllow[1].String() != "192.168.1.0/24" {
		t.Errorf("FetchAllow = %v", c.FetchAllow)
	}
	if fmt.Sprint(c.ImageWidths) != "[640 1280]" || fmt.Sprint(c.ImageFormats) != "[webp jpeg]" {
		t.Errorf("widths %v, formats %v", c.ImageWidths, c.ImageFormats)
	}
	d := Default()
	if err := d.Check(false); err != nil {
		t.Errorf("Default fails Check: %v", err)
	}
	if err := d.Check(true); err == nil || !strings.Contains(err.Error(), "--s3-access-key") {
		t.Errorf("Default without credentials: %v", err)
	}
	if r := d.Cleaning(); r.TimeZone != d.TimeZone {
		t.Errorf("Cleaning zone %q", r.TimeZone)
	}
}

func TestNewsrooms(t *testing.T) {
	c, err := parse(t, nil, "--s3-access-key=a", "--s3-secret-key=b", "--newsrooms=quocoai:0123456789abcdef0123:hanoi,quocoai vnx:fedcba98765432100000:vnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Newsrooms) != 2 || c.Newsrooms[0].Name != "quocoai" || len(c.Newsrooms[0].Sites) != 2 || c.Newsrooms[1].Sites[0] != "vnx" {
		t.Fatalf("newsrooms = %+v", c.Newsrooms)
	}
	if c.Newsrooms[0].TokenHash != HashToken("0123456789abcdef0123") {
		t.Error("token hash does not match")
	}
	if _, err := ParseNewsrooms("a:0123456789abcdef0:x a:0123456789abcdef1:y"); err == nil {
		t.Error("duplicate newsroom accepted")
	}
	if _, err := ParseNewsrooms("a::x"); err == nil || strings.Contains(err.Error(), "0123") {
		t.Errorf("empty token: %v", err)
	}
}

func TestNewsroomsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hash := fmt.Sprintf("%x", HashToken("a-long-enough-token-123"))
	good := write("good.json", `[{"name": "vnx", "token_sha256": "`+hash+`", "sites": ["vnx", "vnx-en"]}]`)
	c, err := parse(t, nil, "--s3-access-key=a", "--s3-secret-key=b", "--newsrooms-file="+good, "--newsrooms=dev:0123456789abcdef0123:dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Newsrooms) != 2 || c.Newsrooms[1].Name != "vnx" || c.Newsrooms[1].TokenHash != HashToken("a-long-enough-token-123") || len(c.Newsrooms[1].Sites) != 2 {
		t.Errorf("newsrooms = %+v", c.Newsrooms)
	}
	for name, body := range map[string]string{
		"plain-token.json": `[{"name": "x", "token_sha256": "secret", "sites": ["x"]}]`,
		"no-sites.json":    `[{"name": "x", "token_sha256": "` + hash + `", "sites": []}]`,
		"unknown.json":     `[{"name": "x", "token": "secret", "token_sha256": "` + hash + `", "sites": ["x"]}]`,
		"twice.json":       `[{"name": "x", "token_sha256": "` + hash + `", "sites": ["x"]}, {"name": "x", "token_sha256": "` + hash + `", "sites": ["x"]}]`,
	} {
		if _, err := parse(t, nil, "--s3-access-key=a", "--s3-secret-key=b", "--newsrooms-file="+write(name, body)); err == nil || !strings.Contains(err.Error(), "--newsrooms-file") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadWebhooks(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "w.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `[{"name": "partner", "url": "https://hooks.example/p", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "sites": ["front"], "events": ["published"], "deadline": "2h"}]`
	ws, err := ReadWebhooks(write(good))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ws[0].Spec().Webhook(); err != nil || !reflect.DeepEqual(back, ws[0]) {
		t.Errorf("a subscriber written and read back is %+v (%v), not %+v", back, err, ws[0])
	}
	if len(ws) != 1 || ws[0].Deadline != 2*time.Hour || ws[0].MinBackoff != time.Second || ws[0].MaxBackoff != 10*time.Minute ||
		len(ws[0].Secret) < 24 || len(ws[0].Events) != 1 || ws[0].Events[0] != events.Published {
		t.Fatalf("ReadWebhooks = %+v", ws)
	}
	for _, tc := range []struct{ body, want string }{
		{`[{"name": "Partner!", "url": "https://x", "secret": "whsec_a"}]`, "name"},
		{`[{"name": "p", "url": "ftp://x", "secret": "whsec_a"}]`, "url"},
		{`[{"name": "p", "url": "https://x", "secret": "hunter2"}]`, "whsec_"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a"}]`, "base64"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "events": ["deleted"]}]`, "deleted"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "deadline": "soon"}]`, "deadline"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "min_backoff": "1m", "max_backoff": "1s"}]`, "max_backoff"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "colour": "red"}]`, "colour"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "retry_schedule": ["5s"], "deadline": "1h"}]`, "retry_schedule"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "retry_schedule": ["50ms"]}]`, "retry_schedule"},
		{`[{"name": "p", "url": "https://x", "secret": "whsec_a", "retry_schedule": ["48h"]}]`, "retry_schedule"},
	} {
		_, err := ReadWebhooks(write(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadWebhooks(%s) = %v, want an error naming %q", tc.body, err, tc.want)
		}
	}
}

// TestRetrySchedules: a subscriber that names no retries gets the
// Standard Webhooks schedule; one that names back-off keeps the doubling
// back-off; one with a schedule of its own keeps it. Each survives being
// written and read back.
func TestRetrySchedules(t *testing.T) {
	const secret = `"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
	for _, tc := range []struct {
		name, body string
		schedule   []time.Duration
		deadline   time.Duration
	}{
		{"none named", `{"name": "p", "url": "https://x", ` + secret + `}`, StandardSchedule, 0},
		{"back-off", `{"name": "p", "url": "https://x", "max_backoff": "1m", ` + secret + `}`, nil, 24 * time.Hour},
		{"its own", `{"name": "p", "url": "https://x", "retry_schedule": ["10s", "1m", "1h"], ` + secret + `}`, []time.Duration{10 * time.Second, time.Minute, time.Hour}, 0},
	} {
		var spec WebhookSpec
		if err := json.Unmarshal([]byte(tc.body), &spec); err != nil {
			t.Fatal(err)
		}
		w, err := spec.Webhook()
		if err != nil || !slices.Equal(w.Schedule, tc.schedule) || w.Deadline != tc.deadline {
			t.Errorf("%s: schedule %v, deadline %s (%v); want %v, %s", tc.name, w.Schedule, w.Deadline, err, tc.schedule, tc.deadline)
		}
		if back, err := w.Spec().Webhook(); err != nil || !reflect.DeepEqual(back, w) {
			t.Errorf("%s: written and read back %+v (%v), not %+v", tc.name, back, err, w)
		}
	}
	var total time.Duration
	for _, d := range StandardSchedule {
		total += d
	}
	if len(StandardSchedule) != 7 || total < 27*time.Hour || total > 28*time.Hour {
		t.Errorf("the standard schedule: %d retries over %s; Standard Webhooks' example is 7 over about 27.6 h", len(StandardSchedule), total)
	}
}

func TestSiteNames(t *testing.T) {
	if _, err := ParseNewsrooms("n:tokentokentokentoken:front,city_news"); err != nil {
		t.Errorf("good sites refused: %v", err)
	}
	for _, bad := range []string{"front page", "Front", "a.b", "*", ">"} {
		if _, err := ParseNewsrooms("n:tokentokentokentoken:" + bad); err == nil || !strings.Contains(err.Error(), "site") {
			t.Errorf("site %q: %v", bad, err)
		}
	}
}

// TestParseSiteTokens: entries are site:token, a bad one is refused
// without quoting it (it may be a bare token), and tokens are kept hashed.
func TestParseSiteTokens(t *testing.T) {
	got, err := ParseSiteTokens("front:front-reader-0123456789 regional:regional-reader-01234")
	if err != nil || len(got) != 2 || got[0].Site != "front" || got[0].TokenHash != HashToken("front-reader-0123456789") {
		t.Fatalf("ParseSiteTokens = %+v, %v", got, err)
	}
	for _, tt := range []struct{ spec, want string }{
		{"secret-token-without-a-site", "entry 1 is not site:token"},
		{"front:short", "shorter than 16"},
		{"Front Page:front-reader-0123456789", "entry 1 is not site:token"},
		{"Front:front-reader-0123456789", "lower-case"},
	} {
		_, err := ParseSiteTokens(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "reader-0123") {
			t.Errorf("ParseSiteTokens(%q) = %v, want an error saying %q and no token", tt.spec, err, tt.want)
		}
	}
}
