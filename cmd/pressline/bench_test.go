package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
	workers := os.Getenv("PRESSLINE_BENCH_WORKERS")
	if workers == "" {
		workers = "16"
	}
	e := newEnvWith(b, "front", workers)
	p := e.start(b)
	defer p.stop(b)

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
				ids[i] = e.submit(b, sample)
			}
		})
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	var pub map[string][]publication
	waitFor(b, "all published", 5*time.Minute, func() bool {
		pub = e.publications(b)
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
		lat[i] = pub[id][0].at.Sub(sent[i]).Seconds() * 1000
	}
	slices.Sort(lat)
	pct := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "articles/s")
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(lat[len(lat)-1], "max_ms")
}

// TestBenchCommand runs `pressline bench` as a user would, small: a mixed
// run on a fresh in-process pipeline with the floor, as JSON.
func TestBenchCommand(t *testing.T) {
	var out, progress bytes.Buffer
	// A process of its own: the embedded S3 server changes the working
	// directory (see pressline).
	cmd := exec.Command(pressline(t), "bench", "-n", "12", "--mix", "mixed", "--concurrency", "4", "--floor", "--json",
		"--corpus", "../../pkg/cleaner/testdata/corpus", "--sample", "../../../shared/samples/quoc-oai.txt")
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
	if r.PeakRSSMiB <= 0 || !strings.Contains(r.Machine, "cores") {
		t.Errorf("machine %q, peak %v MiB", r.Machine, r.PeakRSSMiB)
	}
	if !strings.Contains(progress.String(), "published") {
		t.Errorf("no progress shown: %q", progress.String())
	}
}
