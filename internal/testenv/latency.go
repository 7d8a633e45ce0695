package testenv

import (
	"slices"
	"testing"
	"time"
)

// TimeEach runs op once per iteration of b's loop, with the iteration's
// number, and reports the p50 and p99 of its time (p50-ms, p99-ms): for
// a target on the tail, which ns/op hides.
func TimeEach(b *testing.B, op func(i int)) {
	b.Helper()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		op(i)
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
