package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// stageStats is one stage's line in `pressline top`.
type stageStats struct {
	OK, Retry, DeadLettered float64 // counters: messages by outcome
	Redeliveries            float64 // counter
	InFlight                float64
	Backlog, AckPending     float64
	DeadLetters             float64 // stored, not replayed
}

// snapshot is what one scrape of every process says, summed per stage.
type snapshot struct {
	at     time.Time
	stages map[string]*stageStats
}

// scrape reads the Prometheus text exposition of each URL and sums the
// stage metrics over them (several processes may run one stage).
func scrape(ctx context.Context, client *http.Client, urls []string) (snapshot, error) {
	s := snapshot{at: time.Now(), stages: map[string]*stageStats{}}
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return s, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return s, fmt.Errorf("scrape %s: %w", u, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return s, fmt.Errorf("scrape %s: %w", u, err)
		}
		s.add(mfs)
	}
	return s, nil
}

// totals sums redeliveries and stored dead letters over the stages.
func (s snapshot) totals() (redeliveries, deadLetters float64) {
	for _, st := range s.stages {
		redeliveries += st.Redeliveries
		deadLetters += st.DeadLetters
	}
	return redeliveries, deadLetters
}

func (s snapshot) stage(name string) *stageStats {
	if s.stages[name] == nil {
		s.stages[name] = &stageStats{}
	}
	return s.stages[name]
}

func (s snapshot) add(mfs map[string]*dto.MetricFamily) {
	each := func(name string, f func(labels map[string]string, v float64)) {
		mf := mfs[name]
		if mf == nil {
			return
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			f(labels, v)
		}
	}
	each("pressline_stage_messages_total", func(l map[string]string, v float64) {
		st := s.stage(l["stage"])
		switch l["outcome"] {
		case "ok":
			st.OK += v
		case "retry":
			st.Retry += v
		case "dead_letter":
			st.DeadLettered += v
		}
	})
	each("pressline_stage_redeliveries_total", func(l map[string]string, v float64) { s.stage(l["stage"]).Redeliveries += v })
	each("pressline_stage_in_flight_messages", func(l map[string]string, v float64) { s.stage(l["stage"]).InFlight += v })
	each("pressline_consumer_pending_messages", func(l map[string]string, v float64) { s.stage(l["stage"]).Backlog = v })
	each("pressline_consumer_ack_pending_messages", func(l map[string]string, v float64) { s.stage(l["stage"]).AckPending = v })
	// Every process reads the same dead-letter stream: the largest
	// reading, not the sum.
	each("pressline_deadletter_messages", func(l map[string]string, v float64) {
		s.stage(l["stage"]).DeadLetters = max(s.stage(l["stage"]).DeadLetters, v)
	})
}

// table renders the stages, with rates between prev and cur.
func table(prev, cur snapshot) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "stage\tdone/s\tretry/s\tin flight\tbacklog\tunacked\tredeliv/s\tdead letters\t")
	secs := cur.at.Sub(prev.at).Seconds()
	rate := func(a, b float64) string {
		if secs <= 0 || prev.stages == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", max(0, b-a)/secs)
	}
	names := make([]string, 0, len(cur.stages))
	for n := range cur.stages {
		names = append(names, n)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if d := stageOrder(a) - stageOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		c, p := cur.stages[n], prev.stages[n]
		if p == nil {
			p = &stageStats{}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%.0f\t\n", n,
			rate(p.OK, c.OK), rate(p.Retry+p.DeadLettered, c.Retry+c.DeadLettered), c.InFlight, c.Backlog, c.AckPending,
			rate(p.Redeliveries, c.Redeliveries), c.DeadLetters)
	}
	_ = w.Flush()
	return b.String()
}

// stageOrder puts the stages in pipeline order, webhooks after them.
func stageOrder(name string) int {
	if i := slices.Index([]string{"clean", "imageproc", "publish"}, name); i >= 0 {
		return i
	}
	return 10
}

// topModel is the refreshing terminal view.
type topModel struct {
	ctx       context.Context
	client    *http.Client
	urls      []string
	every     time.Duration
	prev, cur snapshot
	err       error
}

type tick time.Time
type scraped struct {
	s   snapshot
	err error
}

func (m topModel) Init() tea.Cmd { return m.scrape }

func (m topModel) scrape() tea.Msg {
	s, err := scrape(m.ctx, m.client, m.urls)
	return scraped{s, err}
}

func (m topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		}
	case scraped:
		m.err = msg.err
		if msg.err == nil {
			m.prev, m.cur = m.cur, msg.s
		}
		return m, tea.Tick(m.every, func(t time.Time) tea.Msg { return tick(t) })
	case tick:
		return m, m.scrape
	}
	return m, nil
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	errStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	helpStyle  = lipgloss.NewStyle().Faint(true)
)

func (m topModel) View() string {
	var b strings.Builder
	b.WriteString(titleStyle.Render("Pressline — "+strings.Join(m.urls, ", ")) + "\n\n")
	if m.cur.stages != nil {
		b.WriteString(table(m.prev, m.cur))
	} else {
		b.WriteString("waiting for the first scrape…\n")
	}
	if m.err != nil {
		b.WriteString("\n" + errStyle.Render(m.err.Error()) + "\n")
	}
	b.WriteString("\n" + helpStyle.Render(fmt.Sprintf("every %s · q quits", m.every)) + "\n")
	return b.String()
}

// cmdTop is `pressline top`: per stage, what is done, waiting, stuck and
// given up, refreshing; --once prints one table (rates over --every).
func cmdTop(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	metrics := fs.String("metrics", "http://127.0.0.1:9464/metrics", "comma-separated /metrics URLs of the Pressline processes")
	every := fs.Duration("every", 2*time.Second, "refresh interval")
	once := fs.Bool("once", false, "print one table and exit, instead of the live view")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *every < 100*time.Millisecond {
		return fmt.Errorf("--every %s is too short; use 100ms or more", *every)
	}
	urls := strings.Split(*metrics, ",")
	client := &http.Client{Timeout: 5 * time.Second}
	if *once {
		first, err := scrape(ctx, client, urls)
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*every):
		}
		second, err := scrape(ctx, client, urls)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, table(first, second))
		return err
	}
	_, err := tea.NewProgram(topModel{ctx: ctx, client: client, urls: urls, every: *every}, tea.WithContext(ctx), tea.WithAltScreen()).Run()
	return err
}
