package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// clientFlags defines the flags that say which API to talk to, as whom.
func clientFlags(fs *flag.FlagSet) *client.Client {
	c := &client.Client{HTTP: &http.Client{Timeout: 30 * time.Second}}
	fs.StringVar(&c.Server, "server", envOr("server", "http://127.0.0.1:8080"), "ingest API base URL [$PRESSLINE_SERVER]")
	fs.StringVar(&c.Token, "token", envOr("token", ""), "newsroom API token; default: the one pressline dev keeps in data/dev-token [$PRESSLINE_TOKEN]")
	return c
}

func envOr(flagName, def string) string {
	if v, ok := os.LookupEnv(config.EnvName(flagName)); ok {
		return v
	}
	return def
}

// resolveToken falls back to the token pressline dev keeps.
func resolveToken(c *client.Client) error {
	if c.Token != "" {
		return nil
	}
	b, err := os.ReadFile(app.DevTokenFile(envOr("data-dir", config.Default().DataDir)))
	if err != nil {
		return errors.New("no token: pass --token or set PRESSLINE_TOKEN (pressline dev prints one and keeps it in data/dev-token)")
	}
	c.Token = strings.TrimSpace(string(b))
	return nil
}

func cmdSubmit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	c := clientFlags(fs)
	wait := fs.Bool("wait", false, "wait until the article is published (or fails) and print each step")
	contentType := fs.String("content-type", "", "Content-Type of the file; default from its extension (.html, .json, .md, else text/plain; charset=utf-8)")
	location := fs.String("content-location", "", "where the article came from (an absolute URL): its relative links and images resolve against it")
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
	if err := resolveToken(c); err != nil {
		return err
	}
	if *contentType == "" {
		*contentType = contentTypeOf(fs.Arg(0))
	}
	s := client.Submission{Body: body, ContentType: *contentType, ExternalID: *externalID, IdempotencyKey: *idemKey, ContentLocation: *location}
	for _, path := range images {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s.Files = append(s.Files, client.File{Name: filepath.Base(path), Data: data})
	}
	acc, err := c.Submit(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, acc.ID)
	if !*wait {
		return nil
	}
	return follow(ctx, c, acc.ID, stdout)
}

type imageFlags []string

func (f *imageFlags) String() string     { return strings.Join(*f, ",") }
func (f *imageFlags) Set(v string) error { *f = append(*f, v); return nil }

func contentTypeOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".html", ".htm":
		return "text/html"
	case ".json":
		return "application/json"
	case ".md", ".markdown":
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// follow prints each new step of an article until it is published or has
// failed.
func follow(ctx context.Context, c *client.Client, id string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := c.Follow(ctx, id, 100*time.Millisecond, func(h *pb.StageRecord) {
		fmt.Fprintf(stdout, "  %-9s %-11s %s  %s\n", h.GetStage(), h.GetState(), h.GetAt().AsTime().Format(time.RFC3339Nano), h.GetDetail())
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (pressline status %s)", err, id)
		}
		return err
	}
	for _, u := range st.GetUrls() {
		fmt.Fprintln(stdout, "published:", u)
	}
	return nil
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
	if err := resolveToken(c); err != nil {
		return err
	}
	raw, err := c.StatusJSON(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pretty.String())
	return nil
}
