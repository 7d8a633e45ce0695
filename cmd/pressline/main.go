// Command pressline runs Pressline: the whole pipeline on embedded servers
// (dev), chosen services against NATS and MinIO (run), and the tools that
// talk to it (submit, status, dlq).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pressline/pressline/pkg/webhook"
)

const usage = `pressline: an event-driven publishing pipeline for newsrooms

usage:
  pressline dev [flags]                     the whole pipeline in one process, nothing to install
  pressline run [flags] SERVICE...          ingest, clean, imageproc, publish against NATS and S3
  pressline submit [--server URL] [--token T] [--wait] FILE
                                            post an article (text/plain), print its id
  pressline status [--server URL] [--token T] ID
                                            where an article is
  pressline clean [--format auto|text|html|ninjs] [--charset NAME] [--tz ZONE] FILE|-
                                            print the cleaned article JSON for one file
  pressline image [--widths 320,640,…] [--formats webp,jpeg] --out DIR FILE
                                            make web renditions of one image, print a JSON report
  pressline token NEWSROOM SITE...          a new API token, and its entry for --newsrooms-file
  pressline webhook-secret                  a new Standard Webhooks signing secret (whsec_…)
  pressline bench [-n N] [--mix text|photos|html|mixed] [--floor] [--json] [--server URL]
                                            drive articles through a pipeline, report throughput and latencies
  pressline top [--metrics URL,…] [--once]  per stage: rates, in flight, backlog, redeliveries, dead letters
  pressline probe URL                       exit 0 if URL answers 200 (container health checks)
  pressline dlq list [flags]                dead letters, oldest first
  pressline dlq replay [flags] ID           send a dead letter back to its stage

'pressline COMMAND -h' lists a command's flags; every flag also reads PRESSLINE_<FLAG>.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pressline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return cmdDev(ctx, rest)
	case "run":
		return cmdRun(ctx, rest)
	case "submit":
		return cmdSubmit(ctx, rest, os.Stdout)
	case "status":
		return cmdStatus(ctx, rest, os.Stdout)
	case "dlq":
		return cmdDLQ(ctx, rest, os.Stdout)
	case "clean":
		return cmdClean(ctx, rest, os.Stdin, os.Stdout)
	case "image":
		return cmdImage(ctx, rest, os.Stdout)
	case "token":
		return cmdToken(rest, os.Stdout)
	case "bench":
		return cmdBench(ctx, rest, os.Stdout, os.Stderr)
	case "top":
		return cmdTop(ctx, rest, os.Stdout)
	case "probe":
		return cmdProbe(ctx, rest)
	case "webhook-secret":
		_, err := fmt.Fprintln(os.Stdout, webhook.NewSecret())
		return err
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
