package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressline/pressline/pkg/config"
)

// client talks to the ingest API.
type client struct {
	server string
	token  string
	http   *http.Client
}

func clientFlags(fs *flag.FlagSet) *client {
	c := &client{http: &http.Client{Timeout: 30 * time.Second}}
	fs.StringVar(&c.server, "server", envOr("server", "http://127.0.0.1:8080"), "ingest API base URL [$PRESSLINE_SERVER]")
	fs.StringVar(&c.token, "token", envOr("token", ""), "newsroom API token; default: the one pressline dev keeps in data/dev-token [$PRESSLINE_TOKEN]")
	return c
}

func envOr(flagName, def string) string {
	if v, ok := os.LookupEnv(config.EnvName(flagName)); ok {
		return v
	}
	return def
}

func (c *client) resolveToken() error {
	if c.token != "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(envOr("data-dir", "data"), "dev-token"))
	if err != nil {
		return errors.New("no token: pass --token or set PRESSLINE_TOKEN (pressline dev prints one and keeps it in data/dev-token)")
	}
	c.token = strings.TrimSpace(string(b))
	return nil
}

// do sends a request and decodes a JSON answer into out; a problem answer
// becomes an error that says what the server said.
func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any, headers ...map[string]string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for _, h := range headers {
		for k, v := range h {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w (is pressline running?)", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var p struct{ Type, Detail string }
		if json.Unmarshal(data, &p) == nil && p.Detail != "" {
			return resp.StatusCode, fmt.Errorf("%s (%d %s)", p.Detail, resp.StatusCode, p.Type)
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: bad answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func cmdSubmit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	c := clientFlags(fs)
	wait := fs.Bool("wait", false, "wait until the article is published (or fails) and print each step")
	contentType := fs.String("content-type", "", "Content-Type of the file; default from its extension (.html, .json, else text/plain; charset=utf-8)")
	externalID := fs.String("external-id", "", "the newsroom's own id for the article: the same id with changed content sends a correction (a new version)")
	idemKey := fs.String("idempotency-key", "", "a key that makes sending the same request again safe")
	var images imageFlags
	fs.Var(&images, "image", "an image file to send with the article (repeat for several); image blocks refer to it by name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: pressline submit [--server URL] [--token T] [--wait] FILE")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := c.resolveToken(); err != nil {
		return err
	}
	if *contentType == "" {
		*contentType = contentTypeOf(fs.Arg(0))
	}
	var acc struct {
		ID      string `json:"id"`
		Version uint32 `json:"version"`
	}
	reqType, reqBody := *contentType, body
	if len(images) > 0 {
		if reqType, reqBody, err = multipartBody(body, *contentType, images); err != nil {
			return err
		}
	}
	headers := map[string]string{"External-Id": *externalID, "Idempotency-Key": *idemKey}
	if _, err := c.do(ctx, http.MethodPost, "/v1/articles", reqType, reqBody, &acc, headers); err != nil {
		return err
	}
	fmt.Fprintln(stdout, acc.ID)
	if !*wait {
		return nil
	}
	return c.follow(ctx, acc.ID, stdout)
}

type imageFlags []string

func (f *imageFlags) String() string     { return strings.Join(*f, ",") }
func (f *imageFlags) Set(v string) error { *f = append(*f, v); return nil }

// multipartBody puts the article in a part named "article" and each
// image in a file part, as ingest expects.
func multipartBody(article []byte, contentType string, images []string) (string, []byte, error) {
	var files []upload
	for _, path := range images {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", nil, err
		}
		files = append(files, upload{name: filepath.Base(path), data: data})
	}
	return multipartFiles(article, contentType, files)
}

// upload is a file sent with an article.
type upload struct {
	name string
	data []byte
}

// multipartFiles is a submission of an article and its files, as ingest
// reads it: an "article" part, then one "image" part per file.
func multipartFiles(article []byte, contentType string, files []upload) (string, []byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="article"`)
	h.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		return "", nil, err
	}
	_, _ = pw.Write(article)
	for _, f := range files {
		fw, err := mw.CreateFormFile("image", f.name)
		if err != nil {
			return "", nil, err
		}
		_, _ = fw.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		return "", nil, err
	}
	return mw.FormDataContentType(), buf.Bytes(), nil
}

func contentTypeOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		return "text/html"
	case ".json":
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// follow prints each new step of an article until it is published or has
// failed.
func (c *client) follow(ctx context.Context, id string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	seen := 0
	for {
		var st statusView
		_, err := c.do(ctx, http.MethodGet, "/v1/articles/"+id, "", nil, &st)
		if err == nil {
			for _, h := range st.History[seen:] {
				fmt.Fprintf(stdout, "  %-9s %-11s %s  %s\n", h.Stage, h.State, h.At, h.Detail)
			}
			seen = len(st.History)
			switch st.State {
			case "published":
				for _, u := range st.URLs {
					fmt.Fprintln(stdout, "published:", u)
				}
				return nil
			case "failed":
				return fmt.Errorf("article %s failed: %s", id, st.Error)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("article %s not published yet: %w (pressline status %s)", id, ctx.Err(), id)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// statusView is the part of GET /v1/articles/{id} the CLI prints.
type statusView struct {
	State   string   `json:"state"`
	Error   string   `json:"error"`
	URLs    []string `json:"urls"`
	History []struct {
		Stage, State, At, Detail string
	} `json:"history"`
}

func cmdStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	c := clientFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: pressline status [--server URL] [--token T] ID")
	}
	if err := c.resolveToken(); err != nil {
		return err
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, "/v1/articles/"+fs.Arg(0), "", nil, &raw); err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}
