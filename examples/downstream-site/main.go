// Command downstream-site is an example of a site that follows Pressline:
// it mirrors one site's live articles into a folder as ninjs documents,
// catching up after being away, and applying corrections and withdrawals.
//
//	go run ./examples/downstream-site --nats nats://127.0.0.1:4222 --site dev --dir ./mirror
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
)

func main() {
	natsURL := flag.String("nats", nats.DefaultURL, "NATS server of the Pressline installation")
	site := flag.String("site", "dev", "site to follow")
	dir := flag.String("dir", "mirror", "folder to mirror the articles into")
	durable := flag.String("durable", "", "consumer name; the same name resumes where it stopped (default mirror-<site>)")
	since := flag.String("since", "", "for a new consumer, replay history from this RFC 3339 time (default: all of it)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*natsURL, *site, *dir, *durable, *since, log); err != nil {
		fmt.Fprintln(os.Stderr, "downstream-site:", err)
		os.Exit(1)
	}
}

func run(natsURL, site, dir, durable, since string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := subscriber.Config{Site: site, Durable: durable}
	if cfg.Durable == "" {
		cfg.Durable = "mirror-" + site
	}
	if since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return fmt.Errorf("--since %q is not an RFC 3339 time", since)
		}
		cfg.StartAt = t
	}
	opts := []nats.Option{nats.Name("downstream-site " + site)}
	if u, err := url.Parse(strings.Split(natsURL, ",")[0]); err == nil && u.User != nil {
		// A site's own user (nats://USER:PASSWORD@…) may read replies
		// at its own inbox only.
		opts = append(opts, nats.CustomInboxPrefix(events.InboxPrefix(u.User.Username())))
	}
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	m, err := Open(dir, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	log.Info("mirroring", "site", site, "dir", dir, "consumer", cfg.Durable)
	return subscriber.Run(ctx, js, cfg, func(ctx context.Context, ev subscriber.Event) error {
		if err := m.Apply(ctx, ev); err != nil {
			log.Warn("not applied; will retry", "article_id", ev.ArticleID, "version", ev.Version, "kind", ev.Kind, "err", err)
			return err
		}
		log.Info(string(ev.Kind), "article_id", ev.ArticleID, "version", ev.Version, "title", ev.Title)
		return nil
	})
}
