package ops

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveTest serves a handler that reads the whole body and answers its
// length, with lim, until the test ends.
func serveTest(t *testing.T, lim Limits) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return
			}
			fmt.Fprint(w, n)
		})
		_ = Serve(ctx, l, h, slog.New(slog.DiscardHandler), lim)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

var testLimits = Limits{MaxConns: 8, MinBodyRate: 1000, Grace: 300 * time.Millisecond, Respond: time.Second, Idle: time.Second}

// trickle opens a connection that declares a large body and sends it a
// byte at a time; it returns when the server closes the connection.
func trickle(addr string, stop <-chan struct{}) (time.Duration, error) {
	start := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		return 0, err
	}
	for {
		select {
		case <-stop:
			return time.Since(start), fmt.Errorf("still open")
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := conn.Write([]byte("x")); err != nil {
			return time.Since(start), nil
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			return time.Since(start), nil // closed by the server
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestServeLimits(t *testing.T) {
	t.Run("a trickled body is cut off", func(t *testing.T) {
		addr := serveTest(t, testLimits)
		stop := make(chan struct{})
		time.AfterFunc(10*time.Second, func() { close(stop) })
		held, err := trickle(addr, stop)
		if err != nil {
			t.Fatalf("after %s: %v", held, err)
		}
		t.Logf("held for %s", held)
	})
	t.Run("a slow body above the rate gets the time it needs", func(t *testing.T) {
		addr := serveTest(t, testLimits)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// 6000 bytes over 1.2 s: past the grace, under the 6.3 s its
		// length earns at 1000 bytes a second.
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6000\r\n\r\n")
		for range 12 {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte(strings.Repeat("y", 500))); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "6000" {
			t.Errorf("%s %q", resp.Status, body)
		}
	})
	t.Run("slow clients do not starve a well-behaved one", func(t *testing.T) {
		addr := serveTest(t, testLimits)
		stop := make(chan struct{})
		defer close(stop)
		var wg sync.WaitGroup
		for range 5 * testLimits.MaxConns {
			wg.Go(func() { _, _ = trickle(addr, stop) })
		}
		time.Sleep(200 * time.Millisecond) // every slot taken
		start := time.Now()
		client := &http.Client{Timeout: 15 * time.Second}
		resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("Tin ngắn."))
		if err != nil {
			t.Fatalf("after %s: %v", time.Since(start), err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s", resp.Status)
		}
		t.Logf("answered after %s, with %d trickling connections", time.Since(start), 5*testLimits.MaxConns)
	})
}
