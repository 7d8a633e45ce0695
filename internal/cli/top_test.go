package cli

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/testenv"
)

// TestTopOnce reads a running pipeline's /metrics as `pressline top`
// does and prints a line per stage with what it did.
func TestTopOnce(t *testing.T) {
	e := apptest.New(t, []string{"front", "regional"}, 2)
	p := e.Start(t)
	metrics := httptest.NewServer(promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{}))
	defer metrics.Close()
	id := e.Submit(t, []byte("Tiêu đề\n\nNội dung bài viết.\n"))
	testenv.WaitFor(t, "published", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })

	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- cmdTop(context.Background(), []string{"--once", "--every", "1s", "--metrics", metrics.URL}, &out)
	}()
	time.Sleep(200 * time.Millisecond)
	e.Submit(t, []byte("Bài thứ hai\n\nNội dung khác.\n")) // done between the two scrapes
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "done/s") {
		t.Fatalf("top printed:\n%s", out.String())
	}
	for i, stage := range []string{"clean", "imageproc", "publish"} {
		f := strings.Fields(lines[i+1])
		if f[0] != stage || f[1] == "0.0" || f[1] == "-" {
			t.Errorf("line %q: want %s with a rate above zero", lines[i+1], stage)
		}
	}
}
