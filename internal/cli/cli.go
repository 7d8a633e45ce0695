// Package cli is the pressline command: one function per subcommand,
// each parsing its flags and calling into internal/app (to run services)
// or pkg/client (to talk to a running pipeline).
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/pressline/pressline/pkg/webhook"
)

const usage = `pressline: an event-driven publishing pipeline for newsrooms

usage:
  pressline dev [flags]                     the whole pipeline in one process, nothing to install
  pressline run [flags] SERVICE...          ingest, clean, imageproc, publish, notify against NATS and S3
  pressline submit [--server URL] [--token T] [--wait] FILE
                                            post an article (text/plain), print its id
  pressline status [--server URL] [--token T] ID
                                            where an article is
  pressline clean [--format auto|text|html|markdown|ninjs] [--charset NAME] [--tz ZONE] FILE|-
                                            print the cleaned article JSON for one file
  pressline image [--widths 320,640,…] [--formats webp,jpeg] --out DIR FILE
                                            make web renditions of one image, print a JSON report
  pressline token NEWSROOM SITE...          a new API token, and its entry for --newsrooms-file
  pressline webhook-secret                  a new Standard Webhooks signing secret (whsec_…)
  pressline nats-auth [USER:SITE:DURABLE…]  the NATS servers' users and permissions (deploy/nats/auth.conf),
                                            with a read-only user for each downstream site given
  pressline bench [-n N] [--mix text|photos|html|mixed] [--floor] [--json] [--server URL]
                                            drive articles through a pipeline, report throughput and latencies
  pressline bench-extraction [--dir DIR] [--json]
                                            score the cleaner on the article-extraction benchmark, beside go-trafilatura
  pressline top [--metrics URL,…] [--once]  per stage: rates, in flight, backlog, redeliveries, dead letters
  pressline probe URL                       exit 0 if URL answers 200 (container health checks)
  pressline dlq list [flags]                dead letters, oldest first
  pressline dlq replay [flags] ID           send a dead letter back to its stage

'pressline COMMAND -h' lists a command's flags; every flag also reads PRESSLINE_<FLAG>.
`

// Main runs one pressline command and returns the process's exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := run(ctx, args, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "pressline:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return cmdDev(ctx, rest, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, stderr)
	case "submit":
		return cmdSubmit(ctx, rest, stdout)
	case "status":
		return cmdStatus(ctx, rest, stdout)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr)
	case "clean":
		return cmdClean(ctx, rest, stdin, stdout)
	case "image":
		return cmdImage(ctx, rest, stdout)
	case "token":
		return cmdToken(rest, stdout)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "top":
		return cmdTop(ctx, rest, stdout)
	case "bench-extraction":
		return cmdBenchExtraction(ctx, rest, stdout)
	case "probe":
		return cmdProbe(ctx, rest)
	case "nats-auth":
		return cmdNATSAuth(rest, stdout)
	case "webhook-secret":
		_, err := fmt.Fprintln(stdout, webhook.NewSecret())
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
