// Package client talks to Pressline's ingest API: it submits an article
// (text, HTML, Markdown or ninjs, with image files), follows it through
// the pipeline, and withdraws it. It also spells the API's wire
// vocabulary (headers, the accepted answer, the problem document), which
// the ingest service serves, so the two cannot drift apart.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Request headers a newsroom may send with an article.
const (
	// HeaderIdempotencyKey makes sending the same request again safe:
	// the same content under the same key is accepted once.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderExternalID is the newsroom's own id for an article: changed
	// content under it is the article's next version (a correction).
	HeaderExternalID = "External-Id"
	// HeaderSites sends an article to some of the newsroom's sites only,
	// comma-separated.
	HeaderSites = "Sites"
	// HeaderEmbargo holds an article until an RFC 3339 time.
	HeaderEmbargo = "Embargo"
	// HeaderContentLocation is where the article came from: its relative
	// links and images are resolved against it.
	HeaderContentLocation = "Content-Location"
)

// States an article's status goes through, in order, and the one it may
// fall into; its state field holds one of them.
const (
	Received   = "received"
	Cleaned    = "cleaned"
	MediaReady = "media_ready"
	Embargoed  = "embargoed" // held until its embargo time
	Published  = "published"
	Withdrawn  = "withdrawn"
	Failed     = "failed"
)

// ArticlesPath is where articles are submitted and listed.
const ArticlesPath = "/v1/articles"

// ArticlePath is an article's status, and where it is withdrawn.
func ArticlePath(id string) string { return ArticlesPath + "/" + id }

// Accepted is the answer to a submission or a withdrawal.
type Accepted struct {
	ID        string `json:"id"`
	Version   uint32 `json:"version"`
	StatusURL string `json:"status_url"`
	// Repeat: the same content was accepted before (HTTP 200) and nothing
	// was sent through the pipeline again.
	Repeat bool `json:"-"`
}

// ProblemTypePrefix starts every problem type.
const ProblemTypePrefix = "urn:pressline:problem:"

// Problem is a refusal: an RFC 9457 problem document.
type Problem struct {
	// Type is stable (urn:pressline:problem:<code>): programs may switch
	// on Code; Detail is for people.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Field names the offending header, parameter or part, where one is.
	Field string `json:"field,omitempty"`
	// Limit is the limit that was exceeded, where one was.
	Limit int64 `json:"limit,omitempty"`
	// RetryAfter is how long the server asked to wait (429, 503).
	RetryAfter time.Duration `json:"-"`
}

// Code is the problem's type without its prefix: "body-too-large".
func (p *Problem) Code() string { return strings.TrimPrefix(p.Type, ProblemTypePrefix) }

func (p *Problem) Error() string { return fmt.Sprintf("%s (%d %s)", p.Detail, p.Status, p.Code()) }

// Client is an ingest API client for one newsroom.
type Client struct {
	// Server is the API's base URL, such as http://127.0.0.1:8080.
	Server string
	// Token is the newsroom's API token.
	Token string
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// Retries is how many times a submission refused for now (429, or
	// 503 "not accepted") is sent again after the wait the server asks
	// for. Give the submission an IdempotencyKey when retrying a 503, so
	// a request the server did in fact keep is not accepted twice.
	Retries int
}

// File is a file sent with an article, such as a photo; image blocks refer
// to it by name.
type File struct {
	Name string
	Data []byte
}

// Submission is one article to send.
type Submission struct {
	Body        []byte
	ContentType string // text/plain; charset=utf-8, text/html, text/markdown, application/json (ninjs)
	Files       []File
	// Optional headers; empty ones are not sent, but for
	// IdempotencyKey: Submit makes one when it is empty, so that its own
	// retries, and a 503 that was in fact kept, never accept the article
	// twice. Set it to send the same article again later yourself.
	IdempotencyKey string
	ExternalID     string
	Sites          []string
	Embargo        time.Time
	// ContentLocation is where the article came from (an absolute URL).
	ContentLocation string
}

// Submit sends an article and returns its id and version.
func (c *Client) Submit(ctx context.Context, s Submission) (Accepted, error) {
	ct, body := s.ContentType, s.Body
	if len(s.Files) > 0 {
		var err error
		if ct, body, err = Multipart(s.Body, s.ContentType, s.Files); err != nil {
			return Accepted{}, err
		}
	}
	h := http.Header{}
	h.Set("Content-Type", ct)
	if s.IdempotencyKey == "" {
		s.IdempotencyKey = newKey()
	}
	h.Set(HeaderIdempotencyKey, s.IdempotencyKey)
	setIf(h, HeaderExternalID, s.ExternalID)
	setIf(h, HeaderSites, strings.Join(s.Sites, ","))
	setIf(h, HeaderContentLocation, s.ContentLocation)
	if !s.Embargo.IsZero() {
		h.Set(HeaderEmbargo, s.Embargo.Format(time.RFC3339))
	}
	for attempt := 0; ; attempt++ {
		var acc Accepted
		code, err := c.do(ctx, http.MethodPost, ArticlesPath, h, body, &acc)
		var p *Problem
		if errors.As(err, &p) && (p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable) && attempt < c.Retries {
			select {
			case <-ctx.Done():
				return Accepted{}, ctx.Err()
			case <-time.After(max(p.RetryAfter, time.Second)):
			}
			continue
		}
		acc.Repeat = code == http.StatusOK
		return acc, err
	}
}

// Status is an article's state and every step it went through.
func (c *Client) Status(ctx context.Context, id string) (*pb.ArticleStatus, error) {
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, ArticlePath(id), nil, nil, &raw); err != nil {
		return nil, err
	}
	st := &pb.ArticleStatus{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("status %s: %w", id, err)
	}
	return st, nil
}

// StatusJSON is an article's status document as the API wrote it.
func (c *Client) StatusJSON(ctx context.Context, id string) (json.RawMessage, error) {
	var raw json.RawMessage
	_, err := c.do(ctx, http.MethodGet, ArticlePath(id), nil, nil, &raw)
	return raw, err
}

// Withdraw takes an article down on every site, giving a reason.
func (c *Client) Withdraw(ctx context.Context, id, reason string) (Accepted, error) {
	body, err := json.Marshal(struct {
		Reason string `json:"reason,omitempty"`
	}{reason})
	if err != nil {
		return Accepted{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	var acc Accepted
	code, err := c.do(ctx, http.MethodPost, ArticlePath(id)+"/withdraw", h, body, &acc)
	acc.Repeat = code == http.StatusOK
	return acc, err
}

// Done reports whether an article's status is final for its version: it
// was published, withdrawn or failed.
func Done(st *pb.ArticleStatus) bool {
	switch st.GetState() {
	case Published, Withdrawn, Failed:
		return true
	}
	return false
}

// Follow polls an article's status until Done, calling step (when not nil)
// once for each new step of its history, and returns the final status. A
// failed article is returned with an error saying why.
func (c *Client) Follow(ctx context.Context, id string, every time.Duration, step func(*pb.StageRecord)) (*pb.ArticleStatus, error) {
	seen := 0
	for {
		st, err := c.Status(ctx, id)
		if err == nil {
			for _, h := range st.GetHistory()[min(seen, len(st.GetHistory())):] {
				if step != nil {
					step(h)
				}
			}
			seen = len(st.GetHistory())
			if Done(st) {
				if st.GetState() == Failed {
					return st, fmt.Errorf("article %s failed: %s", id, st.GetError())
				}
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("article %s not done yet: %w", id, ctx.Err())
		case <-time.After(every):
		}
	}
}

// do sends a request and decodes a JSON answer into out; a problem answer
// becomes a *Problem error.
func (c *Client) do(ctx context.Context, method, path string, h http.Header, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		p := &Problem{}
		if json.Unmarshal(data, p) != nil || p.Detail == "" {
			return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			p.RetryAfter = time.Duration(secs) * time.Second
		}
		return resp.StatusCode, p
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: bad answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// Multipart is a submission of an article and its files as ingest reads
// it: a part named "article", then a file part named "image" per file.
func Multipart(article []byte, contentType string, files []File) (string, []byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="article"`)
	h.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		return "", nil, err
	}
	if _, err := pw.Write(article); err != nil {
		return "", nil, err
	}
	for _, f := range files {
		fw, err := mw.CreateFormFile("image", f.Name)
		if err != nil {
			return "", nil, err
		}
		if _, err := fw.Write(f.Data); err != nil {
			return "", nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return "", nil, err
	}
	return mw.FormDataContentType(), buf.Bytes(), nil
}

// newKey is a fresh Idempotency-Key: 128 random bits, as base32 text.
func newKey() string { return rand.Text() }
