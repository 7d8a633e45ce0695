package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what one client can hold of an HTTP server: connections,
// and time to send a request body and read the answer. A body's deadline
// grows with what has arrived (Grace plus one second per MinBodyRate
// bytes), so a large upload on a slow line gets the time it needs and a
// client that trickles bytes to hold a connection does not.
type Limits struct {
	// MaxConns is how many connections are served at once; more wait
	// to be accepted. 0: no limit.
	MaxConns int
	// MinBodyRate is the slowest a body may arrive, in bytes a second,
	// after Grace; 0: no body deadline.
	MinBodyRate int64
	Grace       time.Duration
	// Respond is how long after the body's deadline the answer may take
	// to be written.
	Respond time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request.
	Idle time.Duration
}

// DefaultLimits fit a newsroom's uploads (16 KiB/s is a poor mobile
// line) and stay far below a process's file descriptors.
func DefaultLimits() Limits {
	return Limits{MaxConns: 2048, MinBodyRate: 16 << 10, Grace: 10 * time.Second, Respond: time.Minute, Idle: time.Minute}
}

// Serve serves h on l until ctx is cancelled, then stops taking requests
// and gives those in progress up to 15 seconds to finish.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, lim Limits) error {
	if lim.MaxConns > 0 {
		l = netutil.LimitListener(l, lim.MaxConns)
	}
	if lim.MinBodyRate > 0 {
		h = paced(h, lim)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: lim.Idle}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "addr", l.Addr().String(), "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// paced sets each request's read and write deadlines, and moves them on
// as its body arrives.
func paced(next http.Handler, lim Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &pacedBody{rc: http.NewResponseController(w), start: time.Now(), lim: lim}
		b.extend()
		if r.Body != nil && r.Body != http.NoBody {
			b.ReadCloser = r.Body
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

type pacedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	lim   Limits
	n     int64
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.extend()
	}
	return n, err
}

func (b *pacedBody) extend() {
	d := b.start.Add(b.lim.Grace + time.Duration(float64(b.n)/float64(b.lim.MinBodyRate)*float64(time.Second)))
	// Errors only say the connection cannot take deadlines (HTTP/2
	// streams before Go 1.20 did not): nothing to do then.
	_ = b.rc.SetReadDeadline(d)
	_ = b.rc.SetWriteDeadline(d.Add(b.lim.Respond))
}
