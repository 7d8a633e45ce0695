package main

import (
	"os"
	"slices"
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
