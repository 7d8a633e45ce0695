package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/bus"
)

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return errors.New("usage: pressline dlq list | pressline dlq replay ID")
	}
	sub := args[0]
	l, fs, err := parseConfig("dlq "+sub, args[1:], "pressline dlq list | pressline dlq replay ID")
	if err != nil {
		return err
	}
	cfg, err := l.Load(false)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.NATSToken == "" {
		// Against `pressline dev`, its data folder holds the token, as
		// it holds the newsroom's for pressline submit.
		if b, err := os.ReadFile(app.DevSecretsFile(cfg.DataDir)); err == nil {
			var sec app.DevSecrets
			if json.Unmarshal(b, &sec) == nil {
				cfg.NATSToken = sec.NATSToken
			}
		}
	}
	nc, err := nats.Connect(cfg.NATSURL, append(app.NATSAuth(cfg), nats.Name("pressline dlq"))...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	b, err := bus.New(ctx, nc, bus.DefaultConfig(), app.NewLogger("text", stderr), nil)
	if err != nil {
		return err
	}
	if sub == "list" {
		return ListDeadLetters(ctx, b, stdout)
	}
	if fs.NArg() != 1 {
		return errors.New("usage: pressline dlq replay ID (the ID column of pressline dlq list)")
	}
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("dead letter id %q is not a number; take it from pressline dlq list", fs.Arg(0))
	}
	dl, err := b.ReplayDeadLetter(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed dead letter %d: article %s v%d back to %s on %s\n", id, dl.ArticleId, dl.ArticleVersion, dl.Stage, dl.Subject)
	return nil
}

// ListDeadLetters prints every stored dead letter as a table.
func ListDeadLetters(ctx context.Context, b *bus.Bus, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTAGE\tARTICLE\tVERSION\tATTEMPTS\tPERMANENT\tFAILED AT\tERROR")
	n := 0
	for rec, err := range b.DeadLetters(ctx) {
		if err != nil {
			return err
		}
		n++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%v\t%s\t%s\n", rec.ID, rec.Stage, rec.ArticleId, rec.ArticleVersion,
			rec.Attempts, rec.Permanent, rec.FailedAt.AsTime().Format(time.RFC3339), rec.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no dead letters")
	}
	return nil
}
