package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/schollz/progressbar/v3"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/floor"
	"github.com/pressline/pressline/internal/imaging"
	"github.com/pressline/pressline/internal/natsembed"
	"github.com/pressline/pressline/internal/s3embed"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// benchArticle is one request body of a run.
type benchArticle struct {
	contentType string
	body        []byte
	photos      int
}

// benchMix builds n articles of a mix: text (plain-text articles),
// photos (a text article with 1–3 photos, each unique so imageproc
// really renders it), html (full web pages), or mixed (a third of each).
// The articles are generated (benchgen.go), so the command needs no
// file of the source checkout; --sample and --corpus add files of one's
// own, which are then used instead.
func benchMix(mix string, n int, sample, corpus string, photo []byte) ([]benchArticle, error) {
	var texts, pages [][]byte
	if sample != "" {
		data, err := os.ReadFile(sample)
		if err != nil {
			return nil, err
		}
		texts = append(texts, data)
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*"))
	if corpus == "" {
		files = nil
	}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.Contains(base, ".cs-") || strings.Contains(base, "utf16") {
			continue // charsets the request would have to declare
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		switch filepath.Ext(f) {
		case ".txt":
			texts = append(texts, data)
		case ".html":
			pages = append(pages, data)
		}
	}
	if len(texts) == 0 {
		for i := range min(n, 200) {
			texts = append(texts, benchText(i))
		}
	}
	if len(pages) == 0 {
		for i := range min(n, 200) {
			pages = append(pages, benchPage(i))
		}
	}
	kinds := map[string][]string{"text": {"text"}, "photos": {"photos"}, "html": {"html"}, "mixed": {"text", "photos", "html"}}[mix]
	if kinds == nil {
		return nil, fmt.Errorf("--mix %q: choose text, photos, html or mixed", mix)
	}
	out := make([]benchArticle, n)
	for i := range out {
		switch kinds[i%len(kinds)] {
		case "text":
			out[i] = benchArticle{contentType: "text/plain; charset=utf-8", body: texts[i%len(texts)]}
		case "html":
			// No charset: a page says its own in its meta tag.
			out[i] = benchArticle{contentType: "text/html", body: pages[i%len(pages)]}
		case "photos":
			photos := 1 + i%3
			ct, body, err := withPhotos(texts[i%len(texts)], photo, photos, i)
			if err != nil {
				return nil, err
			}
			out[i] = benchArticle{contentType: ct, body: body, photos: photos}
		}
	}
	return out, nil
}

// withPhotos makes a multipart submission; each photo gets a JPEG comment
// with its article and number, so its bytes (and its hash) are its own.
func withPhotos(article, photo []byte, photos, i int) (string, []byte, error) {
	files := make([]client.File, photos)
	for p := range files {
		files[p] = client.File{Name: fmt.Sprintf("photo-%d-%d.jpg", i, p), Data: imaging.WithComment(photo, fmt.Sprintf("pressline bench %d/%d", i, p))}
	}
	return client.Multipart(article, "text/plain; charset=utf-8", files)
}

// benchPhoto is a 2400×1600 photo-like JPEG (gradients and grain), made
// once per run so that no image file has to ship with the binary.
func benchPhoto() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 2400, 1600))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range 1600 {
		for x := range 2400 {
			n := uint8(r.IntN(24))
			img.Set(x, y, color.RGBA{uint8(x * 255 / 2400), uint8(y * 255 / 1600), uint8((x+y)/16) + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// percentiles of a sorted sample.
type percentiles struct { // milliseconds
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func pctl(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	return percentiles{at(0.5), at(0.9), at(0.99), float64(d[len(d)-1].Microseconds()) / 1000}
}

// benchReport is what `pressline bench` prints, as a table or JSON.
type benchReport struct {
	Date        string                 `json:"date"`
	Machine     string                 `json:"machine"`
	Command     string                 `json:"command"`
	Target      string                 `json:"target"`
	Mix         string                 `json:"mix"`
	Articles    int                    `json:"articles"`
	Photos      int                    `json:"photos"`
	Concurrency int                    `json:"concurrency"`
	Published   int                    `json:"published"`
	Failed      int                    `json:"failed"`
	Seconds     float64                `json:"seconds"`
	Throughput  float64                `json:"articles_per_second"`
	EndToEnd    percentiles            `json:"end_to_end_ms"`
	Stages      map[string]percentiles `json:"stage_ms"`
	Redelivered float64                `json:"redeliveries"`
	DeadLetters float64                `json:"dead_letters"`
	PeakRSSMiB  float64                `json:"peak_rss_mib,omitempty"`
	// Requests per published article (in-process runs): to S3 by
	// operation, and messages sent to NATS.
	S3PerArticle   map[string]float64 `json:"s3_requests_per_article,omitempty"`
	NATSPerArticle float64            `json:"nats_messages_per_article,omitempty"`
	Floor          *floorReport       `json:"floor,omitempty"`
	Cluster        *clusterReport     `json:"cluster,omitempty"`
}

// clusterReport is the same articles on a three-node cluster with two
// processes of each stage, after the single-server run.
type clusterReport struct {
	Throughput float64     `json:"articles_per_second"`
	EndToEnd   percentiles `json:"end_to_end_ms"`
	// Cluster ÷ single server: above 1 the cluster is faster
	// (throughput) or slower (latency).
	ThroughputRatio float64 `json:"throughput_ratio"`
	P50Ratio        float64 `json:"p50_ratio"`
	P99Ratio        float64 `json:"p99_ratio"`
}

type floorReport struct {
	Throughput float64     `json:"articles_per_second"`
	EndToEnd   percentiles `json:"end_to_end_ms"`
	// Pipeline ÷ floor: above 1 the pipeline is faster (throughput) or
	// slower (latency) than the naive chain.
	ThroughputRatio float64 `json:"throughput_ratio"`
	P50Ratio        float64 `json:"p50_ratio"`
}

// benchTarget is a pipeline to drive: in-process, or a server.
type benchTarget struct {
	api, token string
	metrics    func() (redeliveries, deadLetters float64)
	local      *benchLocal // nil for --server
}

// client is the API client the run sends with; the waits ingest asks
// for (429, 503) are honoured.
func (t benchTarget) client() *client.Client {
	return &client.Client{Server: t.api, Token: t.token, Retries: 19, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// cmdBench is `pressline bench`.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 200, "articles to send")
	mix := fs.String("mix", "text", "text, photos (text with 1–3 photos), html, or mixed")
	concurrency := fs.Int("concurrency", 16, "submissions in flight at once")
	workers := fs.Int("workers", 16, "in-process pipeline: messages each stage handles at once")
	server := fs.String("server", "", "drive a running pipeline's ingest API instead of a fresh in-process one")
	token := fs.String("token", os.Getenv("PRESSLINE_TOKEN"), "with --server: the newsroom's API token")
	metricsURL := fs.String("metrics", "", "with --server: comma-separated /metrics URLs, for redeliveries and dead letters")
	withFloor := fs.Bool("floor", false, "also run the naive four-stage chain on the same servers and report the ratios")
	withCluster := fs.Bool("cluster", false, "then run the same articles on a fresh in-process three-node NATS cluster (R3) with two processes of each stage, and report the ratios")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	sample := fs.String("sample", "", "a plain-text article to send (default: generated articles)")
	corpus := fs.String("corpus", "", "folder of .txt and .html articles to send (default: generated articles)")
	photoPath := fs.String("photo", "", "JPEG to send as photos (default: a generated 2400×1600 one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *concurrency < 1 || *workers < 1 {
		return errors.New("-n, --concurrency and --workers must be at least 1")
	}
	if (*withFloor || *withCluster) && *server != "" {
		return errors.New("--floor and --cluster run on in-process servers; leave out --server")
	}
	var photo []byte
	var err error
	if *photoPath != "" {
		photo, err = os.ReadFile(*photoPath)
	} else if *mix == "photos" || *mix == "mixed" {
		photo, err = benchPhoto()
	}
	if err != nil {
		return err
	}
	articles, err := benchMix(*mix, *n, *sample, *corpus, photo)
	if err != nil {
		return err
	}
	report := benchReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Command: "pressline bench " + strings.Join(args, " "),
		Mix: *mix, Articles: *n, Concurrency: *concurrency, Stages: map[string]percentiles{}}
	for _, a := range articles {
		report.Photos += a.photos
	}
	target := benchTarget{api: strings.TrimSuffix(*server, "/"), token: *token, metrics: func() (float64, float64) { return 0, 0 }}
	if *server == "" {
		local, err := startBenchLocal(ctx, *workers, 1)
		if err != nil {
			return err
		}
		defer local.close()
		target = local.target()
		report.Target = "in-process pressline dev (embedded NATS with fsync, embedded S3)"
	} else {
		report.Target = *server
		if *metricsURL != "" {
			urls := strings.Split(*metricsURL, ",")
			target.metrics = func() (float64, float64) {
				s, err := scrape(ctx, http.DefaultClient, urls)
				if err != nil {
					return 0, 0
				}
				return s.totals()
			}
		}
	}
	if err := runBench(ctx, target, articles, *concurrency, &report, stderr); err != nil {
		return err
	}
	if *withFloor {
		payload := 0
		for _, a := range articles {
			payload += len(a.body)
		}
		bar := newBar(*n, "floor", stderr)
		res, err := floor.Run(ctx, floor.Config{JS: target.local.pipeline.Bus.JetStream(), Store: target.local.pipeline.Blobs, Articles: *n, Concurrency: *concurrency,
			Payload: bytes.Repeat([]byte("x"), payload / *n), Progress: func() { _ = bar.Add(1) }})
		_ = bar.Finish()
		if err != nil {
			return err
		}
		f := &floorReport{Throughput: res.Throughput, EndToEnd: pctl(res.Latencies)}
		f.ThroughputRatio = report.Throughput / f.Throughput
		if f.EndToEnd.P50 > 0 {
			f.P50Ratio = report.EndToEnd.P50 / f.EndToEnd.P50
		}
		report.Floor = f
	}
	if target.local != nil {
		report.PeakRSSMiB = peakRSSMiB()
	}
	if *withCluster {
		target.local.close()
		cl, err := startBenchLocal(ctx, *workers, 3)
		if err != nil {
			return err
		}
		defer cl.close()
		run := benchReport{Stages: map[string]percentiles{}}
		if err := runBench(ctx, cl.target(), articles, *concurrency, &run, stderr); err != nil {
			return err
		}
		c := &clusterReport{Throughput: run.Throughput, EndToEnd: run.EndToEnd, ThroughputRatio: run.Throughput / report.Throughput}
		if report.EndToEnd.P50 > 0 && report.EndToEnd.P99 > 0 {
			c.P50Ratio, c.P99Ratio = run.EndToEnd.P50/report.EndToEnd.P50, run.EndToEnd.P99/report.EndToEnd.P99
		}
		report.Cluster = c
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	printReport(stdout, report)
	return nil
}

func newBar(n int, what string, w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish())
}

// runBench submits every article, then follows each one's status until it
// is published or failed, and fills the report from the statuses' own
// timestamps (so the polling interval does not blur the figures).
func runBench(ctx context.Context, t benchTarget, articles []benchArticle, concurrency int, report *benchReport, stderr io.Writer) error {
	redelivered0, dead0 := t.metrics()
	var trips0 app.RoundTrips
	if t.local != nil {
		trips0 = t.local.pipeline.RoundTrips()
		defer func() {
			// Counted when the run ends: the feeds of the last articles
			// may be written a moment later and are not all in.
			trips := t.local.pipeline.RoundTrips().Sub(trips0)
			if report.Published > 0 {
				report.S3PerArticle = map[string]float64{}
				for op, n := range trips.S3 {
					report.S3PerArticle[op] = float64(n) / float64(report.Published)
				}
				report.NATSPerArticle = float64(trips.NATS) / float64(report.Published)
			}
		}()
	}
	api := t.client()
	ids := make([]string, len(articles))
	bar := newBar(len(articles), "sent", stderr)
	next := make(chan int)
	errc := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range next {
				acc, err := api.Submit(ctx, client.Submission{Body: articles[i].body, ContentType: articles[i].contentType})
				if err != nil {
					errc <- fmt.Errorf("submit: %w", err)
					return
				}
				ids[i] = acc.ID
				_ = bar.Add(1)
			}
		})
	}
	var sendErr error
send:
	for i := range articles {
		select {
		case next <- i:
		case sendErr = <-errc:
			break send
		}
	}
	close(next)
	wg.Wait()
	_ = bar.Finish()
	if sendErr != nil {
		return sendErr
	}
	select {
	case err := <-errc:
		return err
	default:
	}

	final := make([]*pb.ArticleStatus, len(ids))
	bar = newBar(len(ids), "published", stderr)
	for pending := len(ids); pending > 0; {
		var mu sync.Mutex
		work := make(chan int)
		var pw sync.WaitGroup
		for range concurrency {
			pw.Go(func() {
				for i := range work {
					st, err := api.Status(ctx, ids[i])
					if err != nil {
						continue // asked again next round
					}
					if st.GetState() == status.Published || st.GetState() == status.Failed {
						mu.Lock()
						final[i] = st
						pending--
						mu.Unlock()
						_ = bar.Add(1)
					}
				}
			})
		}
		for i := range ids {
			if final[i] == nil {
				work <- i
			}
		}
		close(work)
		pw.Wait()
		if pending > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	_ = bar.Finish()

	var first, last time.Time
	var e2e []time.Duration
	stages := map[string][]time.Duration{}
	for _, st := range final {
		if st.GetState() == status.Failed {
			report.Failed++
			continue
		}
		report.Published++
		at := map[string]time.Time{}
		for _, h := range st.GetHistory() {
			if _, seen := at[h.GetState()]; !seen && h.GetVersion() == st.GetArticle().GetVersion() {
				at[h.GetState()] = h.GetAt().AsTime()
			}
		}
		received, published := at[status.Received], at[status.Published]
		if first.IsZero() || received.Before(first) {
			first = received
		}
		if published.After(last) {
			last = published
		}
		e2e = append(e2e, published.Sub(received))
		stages["clean"] = append(stages["clean"], at[status.Cleaned].Sub(received))
		stages["imageproc"] = append(stages["imageproc"], at[status.MediaReady].Sub(at[status.Cleaned]))
		stages["publish"] = append(stages["publish"], published.Sub(at[status.MediaReady]))
	}
	report.Seconds = last.Sub(first).Seconds()
	if report.Seconds > 0 {
		report.Throughput = float64(report.Published) / report.Seconds
	}
	report.EndToEnd = pctl(e2e)
	for s, d := range stages {
		report.Stages[s] = pctl(d)
	}
	redelivered1, dead1 := t.metrics()
	report.Redelivered, report.DeadLetters = redelivered1-redelivered0, dead1-dead0
	return nil
}

func printReport(w io.Writer, r benchReport) {
	fmt.Fprintf(w, "pressline bench  %s  %s\n", r.Date, r.Machine)
	fmt.Fprintf(w, "target: %s\n", r.Target)
	fmt.Fprintf(w, "%d articles (%s, %d photos), %d in flight: %d published, %d failed in %.1f s = %.1f articles/s\n",
		r.Articles, r.Mix, r.Photos, r.Concurrency, r.Published, r.Failed, r.Seconds, r.Throughput)
	fmt.Fprintf(w, "redeliveries %.0f, dead letters %.0f", r.Redelivered, r.DeadLetters)
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(w, ", peak memory %.0f MiB (the whole process: pipeline and embedded servers)", r.PeakRSSMiB)
	}
	fmt.Fprintln(w)
	if len(r.S3PerArticle) > 0 {
		ops := slices.Sorted(maps.Keys(r.S3PerArticle))
		var parts []string
		for _, op := range ops {
			parts = append(parts, fmt.Sprintf("%s %.1f", op, r.S3PerArticle[op]))
		}
		fmt.Fprintf(w, "per article: S3 requests %s; NATS messages sent %.1f\n", strings.Join(parts, ", "), r.NATSPerArticle)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tp50\tp90\tp99\tmax\t")
	row := func(name string, p percentiles) {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, p.P50, p.P90, p.P99, p.Max)
	}
	row("accepted → published", r.EndToEnd)
	for _, s := range []string{"clean", "imageproc", "publish"} {
		row("  "+s, r.Stages[s])
	}
	if r.Floor != nil {
		row("floor: naive chain", r.Floor.EndToEnd)
	}
	_ = tw.Flush()
	if r.Floor != nil {
		fmt.Fprintf(w, "floor: %.1f articles/s; pipeline ÷ floor: throughput %.2f×, p50 latency %.2f×\n",
			r.Floor.Throughput, r.Floor.ThroughputRatio, r.Floor.P50Ratio)
	}
	if c := r.Cluster; c != nil {
		fmt.Fprintf(w, "cluster (3 NATS nodes, R3, two of each stage): %.1f articles/s, p50 %.1f ms, p99 %.1f ms; cluster ÷ one server: throughput %.2f×, p50 %.2f×, p99 %.2f×\n",
			c.Throughput, c.EndToEnd.P50, c.EndToEnd.P99, c.ThroughputRatio, c.P50Ratio, c.P99Ratio)
	}
}

// machine says where the figures come from.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d cores %s, %s %s/%s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// peakRSSMiB is the process's high-water resident memory (VmHWM).
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// benchLocal is a fresh in-process pipeline on embedded servers in a
// temporary folder, as `pressline dev` runs it.
// benchLocal is a fresh in-process pipeline on embedded servers in a
// temporary folder, as pressline dev runs it.
type benchLocal struct {
	dir      string
	servers  *app.Embedded
	nodes    []*natsembed.Server // the other two nodes of a cluster
	pipeline *app.Pipeline
	more     *app.Pipeline // a cluster's second process of each stage
	token    string
	api      string
}

func (l *benchLocal) target() benchTarget {
	return benchTarget{api: l.api, token: l.token, local: l, metrics: func() (float64, float64) {
		s := snapshot{stages: map[string]*stageStats{}}
		mfs, err := l.pipeline.Registry.Gather()
		if err != nil {
			return 0, 0
		}
		byName := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			byName[mf.GetName()] = mf
		}
		s.add(byName)
		return s.totals()
	}}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startBenchLocal starts fresh servers and a pipeline on them: one NATS
// server, or (nodes 3) a three-node cluster with every stream and bucket
// at three replicas and a second process of each stage.
func startBenchLocal(ctx context.Context, workers, nodes int) (*benchLocal, error) {
	dir, err := os.MkdirTemp("", "pressline-bench-")
	if err != nil {
		return nil, err
	}
	l := &benchLocal{dir: dir, token: "bench_" + strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)}
	fail := func(err error) (*benchLocal, error) { l.close(); return nil, err }
	// The S3 server picks a free port itself.
	nc := natsembed.Config{Port: -1, SyncAlways: true}
	var routes []string
	if nodes > 1 {
		for range nodes {
			a, err := freeAddr()
			if err != nil {
				return fail(err)
			}
			routes = append(routes, a)
		}
		nc.Name, nc.Cluster = "n1", &natsembed.Cluster{Name: "bench", Listen: routes[0], Routes: routes}
	}
	// The first node starts with the S3 server; the others beside it.
	started := make(chan error, 1)
	go func() {
		var err error
		l.servers, err = app.StartEmbedded(ctx, dir, nc, s3embed.Config{})
		started <- err
	}()
	for i := 1; i < nodes; i++ {
		n, err := natsembed.Start(natsembed.Config{Dir: filepath.Join(dir, fmt.Sprintf("nats-%d", i+1)), Port: -1, SyncAlways: true,
			Name: fmt.Sprintf("n%d", i+1), Cluster: &natsembed.Cluster{Name: "bench", Listen: routes[i], Routes: routes}})
		if err != nil {
			return fail(err)
		}
		l.nodes = append(l.nodes, n)
	}
	if err := <-started; err != nil {
		return fail(err)
	}
	cfg := config.Default()
	l.servers.Config(&cfg)
	for _, n := range l.nodes {
		cfg.NATSURL += "," + n.ClientURL()
	}
	if nodes > 1 {
		cfg.Replicas = nodes
	}
	if cfg.HTTPAddr, err = freeAddr(); err != nil {
		return fail(err)
	}
	cfg.Newsrooms = []config.Newsroom{{Name: "bench", TokenHash: config.HashToken(l.token), Sites: []string{"bench"}}}
	cfg.RatePerSecond, cfg.Workers, cfg.SiteURL = 0, workers, "http://bench.invalid"
	if err := cfg.Check(true); err != nil {
		return fail(err)
	}
	if l.pipeline, err = app.Start(ctx, &cfg, slog.New(slog.DiscardHandler), app.Services); err != nil {
		return fail(err)
	}
	if nodes > 1 {
		if l.more, err = app.Start(ctx, &cfg, slog.New(slog.DiscardHandler), []string{"clean", "imageproc", "publish"}); err != nil {
			return fail(err)
		}
	}
	l.api = "http://" + cfg.HTTPAddr
	return l, nil
}

func (l *benchLocal) close() {
	for _, p := range []*app.Pipeline{l.more, l.pipeline} {
		if p != nil {
			_ = p.Stop()
		}
	}
	l.more, l.pipeline = nil, nil
	if l.servers != nil {
		l.servers.Close()
		l.servers = nil
	}
	for _, n := range l.nodes {
		n.Close()
	}
	l.nodes = nil
	_ = os.RemoveAll(l.dir)
}
