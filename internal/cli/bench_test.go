package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/testenv"
)

// BenchmarkPipeline drives sample-sized articles through the HTTP API and
// the four stages against in-process NATS (SyncAlways) and a real MinIO,
// 16 submitters at a time. It reports articles per second from the first
// submission to the last publication, and end-to-end latency percentiles
// (accepted to published event stored). One site per article: 3 S3 writes
// (original, ninjs, HTML) and no S3 reads, as every event rides inline.
func BenchmarkPipeline(b *testing.B) {
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		b.Fatal(err)
	}
	workers := 16
	if w, err := strconv.Atoi(os.Getenv("PRESSLINE_BENCH_WORKERS")); err == nil {
		workers = w
	}
	e := apptest.New(b, []string{"front"}, workers)
	e.Start(b)

	b.ResetTimer()
	start := time.Now()
	ids := make([]string, b.N)
	sent := make([]time.Time, b.N)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				sent[i] = time.Now()
				ids[i] = e.Submit(b, sample)
			}
		})
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	var pub map[string][]apptest.Publication
	testenv.WaitFor(b, "all published", 5*time.Minute, func() bool {
		pub = e.Publications(b)
		for _, id := range ids {
			if len(pub[id]) == 0 {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat := make([]float64, b.N)
	for i, id := range ids {
		lat[i] = pub[id][0].At.Sub(sent[i]).Seconds() * 1000
	}
	slices.Sort(lat)
	pct := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "articles/s")
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(lat[len(lat)-1], "max_ms")
}

// TestBenchCommand runs `pressline bench` as a user would, small: a mixed
// run on a fresh in-process pipeline with the floor, then on a cluster,
// as JSON.
func TestBenchCommand(t *testing.T) {
	var out, progress bytes.Buffer
	// A process of its own: the embedded S3 server changes the working
	// directory (see pressline).
	cmd := exec.Command(testenv.Pressline(t), "bench", "-n", "12", "--mix", "mixed", "--concurrency", "4", "--floor", "--cluster", "--json",
		"--corpus", "../cleaner/testdata/corpus", "--sample", "../../../shared/samples/quoc-oai.txt")
	cmd.Stdout, cmd.Stderr = &out, &progress
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\n%s", err, progress.String())
	}
	var r benchReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Published != 12 || r.Failed != 0 || r.Photos != 8 || r.Throughput <= 0 || r.EndToEnd.P50 <= 0 || r.EndToEnd.Max < r.EndToEnd.P99 {
		t.Errorf("report %+v", r)
	}
	for _, s := range []string{"clean", "imageproc", "publish"} {
		if r.Stages[s].Max <= 0 {
			t.Errorf("no %s latencies: %+v", s, r.Stages)
		}
	}
	if r.Floor == nil || r.Floor.Throughput <= 0 || r.Floor.ThroughputRatio <= 0 || r.Floor.EndToEnd.P50 <= 0 {
		t.Errorf("floor %+v", r.Floor)
	}
	if c := r.Cluster; c == nil || c.Throughput <= 0 || c.ThroughputRatio <= 0 || c.EndToEnd.P50 <= 0 || c.P99Ratio <= 0 {
		t.Errorf("cluster %+v", r.Cluster)
	}
	if r.PeakRSSMiB <= 0 || !strings.Contains(r.Machine, "cores") {
		t.Errorf("machine %q, peak %v MiB", r.Machine, r.PeakRSSMiB)
	}
	if !strings.Contains(progress.String(), "published") {
		t.Errorf("no progress shown: %q", progress.String())
	}
}

// The bench's own articles are generated: from any directory, every mix
// has articles, each distinct, which the cleaner reads as articles (a
// title and a body, Vietnamese and English).
func TestBenchArticlesNeedNoCheckout(t *testing.T) {
	t.Chdir(t.TempDir())
	photo, err := benchPhoto()
	if err != nil {
		t.Fatal(err)
	}
	for _, mix := range []string{"text", "photos", "html", "mixed"} {
		arts, err := benchMix(mix, 12, "", "", photo)
		if err != nil || len(arts) != 12 {
			t.Fatalf("%s: %d articles, %v", mix, len(arts), err)
		}
	}
	c, err := cleaner.New(cleaner.HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 6 {
		for _, in := range []cleaner.Input{{Data: benchText(i), Format: cleaner.FormatText}, {Data: benchPage(i), Format: cleaner.FormatHTML}} {
			a, err := c.Clean(in)
			if err != nil || a.Title == "" || len(a.Blocks) < 3 || seen[a.Title+string(in.Format)] {
				t.Errorf("article %d (%v): title %q, %d blocks, %v", i, in.Format, a.GetTitle(), len(a.GetBlocks()), err)
			}
			seen[a.GetTitle()+string(in.Format)] = true
			if want := map[bool]string{true: "vi", false: "en"}[i%2 == 0]; a.GetLanguage() != want {
				t.Errorf("article %d (%v): language %q, want %q", i, in.Format, a.GetLanguage(), want)
			}
		}
	}
}
