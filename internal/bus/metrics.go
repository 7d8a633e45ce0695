package bus

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/ops"
)

// Metrics are the bus's and the stages' metrics. Build one per process and
// share it: in `pressline dev` all four stages report into it, told apart by
// the stage label.
type Metrics struct {
	handled         *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	inFlight        *prometheus.GaugeVec
	redeliveries    *prometheus.CounterVec
	panics          *prometheus.CounterVec
	published       *prometheus.CounterVec
	publishDuration prometheus.Histogram

	mu        sync.Mutex
	consumers map[string]watched  // by durable name
	js        jetstream.JetStream // for the dead-letter counts; set by New

	pendingDesc, ackPendingDesc, redeliveredDesc, deadLetterDesc *prometheus.Desc
}

// NewMetrics registers the bus metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "stage", Name: "messages_total",
			Help: "Messages handled by a stage, by outcome: ok, retry (nak with delay) or dead_letter.",
		}, []string{"stage", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ops.Namespace, Subsystem: "stage", Name: "handle_duration_seconds",
			Help:    "Time a stage spent on one message, whatever the outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ops.Namespace, Subsystem: "stage", Name: "in_flight_messages",
			Help: "Messages a stage is working on now.",
		}, []string{"stage"}),
		redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "stage", Name: "redeliveries_total",
			Help: "Deliveries that were not a message's first.",
		}, []string{"stage"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "stage", Name: "panics_total",
			Help: "Handler calls that panicked; each message ends as a dead letter and the process goes on.",
		}, []string{"stage"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "bus", Name: "published_messages_total",
			Help: "Messages published to JetStream, by stream and outcome: ok, duplicate (dropped by message id) or error.",
		}, []string{"stream", "outcome"}),
		publishDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ops.Namespace, Subsystem: "bus", Name: "publish_duration_seconds",
			Help:    "Time from publishing a message to JetStream's acknowledgement.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		consumers: map[string]watched{},
		pendingDesc: prometheus.NewDesc(prometheus.BuildFQName(ops.Namespace, "consumer", "pending_messages"),
			"Messages in the stream not yet delivered to the stage's consumer (its backlog).", []string{"stage"}, nil),
		ackPendingDesc: prometheus.NewDesc(prometheus.BuildFQName(ops.Namespace, "consumer", "ack_pending_messages"),
			"Messages delivered to the stage and not yet acknowledged.", []string{"stage"}, nil),
		redeliveredDesc: prometheus.NewDesc(prometheus.BuildFQName(ops.Namespace, "consumer", "redelivered_messages"),
			"Messages the server is redelivering to the stage now.", []string{"stage"}, nil),
		deadLetterDesc: prometheus.NewDesc(prometheus.BuildFQName(ops.Namespace, "deadletter", "messages"),
			"Dead letters stored and not yet replayed, by the stage (or webhook-<subscriber>) that gave up.", []string{"stage"}, nil),
	}
	reg.MustRegister(m.handled, m.duration, m.inFlight, m.redeliveries, m.panics, m.published, m.publishDuration, m)
	return m
}

func (m *Metrics) watch(stage, durable string, c jetstream.Consumer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.consumers[durable] = watched{stage: stage, c: c}
}

func (m *Metrics) unwatch(durable string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.consumers, durable)
}

// watched is a running consumer and the stage it belongs to; a
// partitioned stage has several, and its gauges are their sums.
type watched struct {
	stage string
	c     jetstream.Consumer
}

// Describe implements prometheus.Collector for the consumer gauges.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.pendingDesc
	ch <- m.ackPendingDesc
	ch <- m.redeliveredDesc
	ch <- m.deadLetterDesc
}

// Collect asks the server for each running consumer's state at scrape time,
// so the gauges are never stale.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	consumers := make([]watched, 0, len(m.consumers))
	for _, w := range m.consumers {
		consumers = append(consumers, w)
	}
	js := m.js
	m.mu.Unlock()
	if js != nil {
		m.collectDeadLetters(ch, js)
	}
	type gauges struct{ pending, ackPending, redelivered float64 }
	sums := map[string]*gauges{}
	for _, w := range consumers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := w.c.Info(ctx)
		cancel()
		if err != nil {
			continue // a scrape must not fail because NATS is briefly away
		}
		g := sums[w.stage]
		if g == nil {
			g = &gauges{}
			sums[w.stage] = g
		}
		g.pending += float64(info.NumPending)
		g.ackPending += float64(info.NumAckPending)
		g.redelivered += float64(info.NumRedelivered)
	}
	for stage, g := range sums {
		ch <- prometheus.MustNewConstMetric(m.pendingDesc, prometheus.GaugeValue, g.pending, stage)
		ch <- prometheus.MustNewConstMetric(m.ackPendingDesc, prometheus.GaugeValue, g.ackPending, stage)
		ch <- prometheus.MustNewConstMetric(m.redeliveredDesc, prometheus.GaugeValue, g.redelivered, stage)
	}
}

// collectDeadLetters counts the dead-letter stream's messages per subject,
// which is per stage.
func (m *Metrics) collectDeadLetters(ch chan<- prometheus.Metric, js jetstream.JetStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, layout.StreamDeadLetter)
	if err != nil {
		return
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(layout.DeadLetterSubjects))
	if err != nil {
		return
	}
	for subject, n := range info.State.Subjects {
		ch <- prometheus.MustNewConstMetric(m.deadLetterDesc, prometheus.GaugeValue, float64(n), layout.DeadLetterStage(subject))
	}
}
