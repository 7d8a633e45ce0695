// Command pressline runs Pressline: the whole pipeline on embedded servers
// (dev), chosen services against NATS and MinIO (run), and the tools that
// talk to it (submit, status, dlq, bench, top, ...). `pressline help`
// lists them; internal/cli has them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pressline/pressline/internal/cli"
)

func main() {
	// SIGTERM (as Kubernetes sends) and Ctrl-C stop taking work, finish
	// what is in flight, then return.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
