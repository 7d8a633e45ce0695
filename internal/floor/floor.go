// Package floor is the yardstick `pressline bench --floor` measures the
// pipeline against: the naive plumbing of a four-stage pipeline with no
// processing at all. Per article it makes 4 S3 writes, 3 S3 reads, 4
// JetStream publishes each consumed with an explicit ack, and 4 key-value
// updates, chained stage by stage:
//
//	submit:  PUT original, KV, publish s1
//	stage 1: GET original, PUT cleaned, KV, publish s2   (consumes s1)
//	stage 2: GET cleaned,  PUT media,   KV, publish s3   (consumes s2)
//	stage 3: GET media,    PUT page,    KV, publish s4   (consumes s3)
//	done:    consumes s4
//
// A careful pipeline can beat it by making fewer round trips.
package floor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Store is the S3 the floor writes and reads.
type Store interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Config is one floor run.
type Config struct {
	JS          jetstream.JetStream
	Store       Store
	Articles    int
	Concurrency int    // submitters, and workers per stage
	Payload     []byte // what every stage writes
	// Progress, if set, is told of each article done.
	Progress func()
}

// Result is what a run measured.
type Result struct {
	Articles   int
	Elapsed    time.Duration
	Throughput float64         // articles per second
	Latencies  []time.Duration // per article, submit to done, sorted
}

const (
	stream = "PRESSLINE_FLOOR"
	bucket = "pressline_floor"
)

// Run drives the chain once, on fresh stream and bucket it removes after.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Articles < 1 || cfg.Concurrency < 1 {
		return Result{}, errors.New("floor: Articles and Concurrency must be positive")
	}
	js := cfg.JS
	_ = js.DeleteStream(ctx, stream)
	_ = js.DeleteKeyValue(ctx, bucket)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"floor.>"}, Storage: jetstream.FileStorage}); err != nil {
		return Result{}, fmt.Errorf("floor: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), stream) }()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage})
	if err != nil {
		return Result{}, fmt.Errorf("floor: %w", err)
	}
	defer func() { _ = js.DeleteKeyValue(context.WithoutCancel(ctx), bucket) }()

	ctx, cancel := context.WithCancel(ctx)
	r := &run{cfg: cfg, kv: kv, cancel: cancel, errc: make(chan error, 4), done: make(chan struct{}),
		sent: make([]time.Time, cfg.Articles), lat: make([]time.Duration, cfg.Articles), remaining: cfg.Articles}
	defer r.stop()
	for _, st := range stages {
		if err := r.startStage(ctx, st); err != nil {
			return Result{}, err
		}
	}
	if err := r.startDone(ctx); err != nil {
		return Result{}, err
	}
	start := time.Now()
	r.submitAll(ctx)
	if err := r.wait(ctx); err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	slices.Sort(r.lat)
	return Result{Articles: cfg.Articles, Elapsed: elapsed, Throughput: float64(cfg.Articles) / elapsed.Seconds(), Latencies: r.lat}, nil
}

// stage is one link of the chain: it consumes in, reads what the stage
// before wrote, writes its own, and publishes out.
type stage struct{ in, read, write, out string }

var stages = []stage{
	{"floor.s1", "original", "cleaned", "floor.s2"},
	{"floor.s2", "cleaned", "media", "floor.s3"},
	{"floor.s3", "media", "page", "floor.s4"},
}

// run is one Run's state.
type run struct {
	cfg    Config
	kv     jetstream.KeyValue
	cancel context.CancelFunc
	errc   chan error // the first failure
	// consumers and their workers, stopped by stop.
	consumers []consumer
	workers   sync.WaitGroup
	// per article, by index: when it was sent, and its latency once done.
	mu        sync.Mutex
	sent      []time.Time
	lat       []time.Duration
	remaining int
	done      chan struct{} // closed when remaining reaches 0
}

type consumer struct {
	cc   jetstream.ConsumeContext
	work chan jetstream.Msg // nil for the last consumer, which has no workers
}

// fail records the first failure and stops the run.
func (r *run) fail(err error) {
	select {
	case r.errc <- err:
	default:
	}
	r.cancel()
}

func (r *run) put(ctx context.Context, id, what string) error {
	return r.cfg.Store.Put(ctx, "floor/"+id+"/"+what, r.cfg.Payload, "application/octet-stream")
}

func (r *run) step(ctx context.Context, id, stage string) error {
	_, err := r.kv.Put(ctx, id, []byte(stage))
	return err
}

func (r *run) publish(ctx context.Context, subject, id string) error {
	msg := &nats.Msg{Subject: subject, Data: []byte(id), Header: nats.Header{}}
	_, err := r.cfg.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(subject+"/"+id))
	return err
}

// startStage consumes a stage's input with Concurrency workers.
func (r *run) startStage(ctx context.Context, st stage) error {
	c, err := r.cfg.JS.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "floor-" + st.write, FilterSubject: st.in,
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: r.cfg.Concurrency * 4})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	work := make(chan jetstream.Msg)
	for range r.cfg.Concurrency {
		r.workers.Go(func() {
			for m := range work {
				if ctx.Err() != nil {
					continue // failing: drain without work
				}
				if err := r.handle(ctx, st, string(m.Data())); err != nil {
					r.fail(fmt.Errorf("floor %s: %w", st.write, err))
					continue
				}
				_ = m.Ack()
			}
		})
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		select {
		case work <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(r.cfg.Concurrency))
	if err != nil {
		close(work)
		return fmt.Errorf("floor: %w", err)
	}
	r.consumers = append(r.consumers, consumer{cc, work})
	return nil
}

// handle is a stage's work on one article: a read, a write, a key-value
// update and a publish.
func (r *run) handle(ctx context.Context, st stage, id string) error {
	if _, err := r.cfg.Store.Get(ctx, "floor/"+id+"/"+st.read); err != nil {
		return err
	}
	if err := r.put(ctx, id, st.write); err != nil {
		return err
	}
	if err := r.step(ctx, id, st.write); err != nil {
		return err
	}
	return r.publish(ctx, st.out, id)
}

// startDone consumes the last stage's output and times each article.
func (r *run) startDone(ctx context.Context) error {
	last, err := r.cfg.JS.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "floor-done", FilterSubject: "floor.s4", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	lc, err := last.Consume(func(m jetstream.Msg) {
		i, _ := strconv.Atoi(string(m.Data()))
		_ = m.Ack()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.lat[i] == 0 {
			r.lat[i] = time.Since(r.sent[i])
			r.remaining--
			if r.cfg.Progress != nil {
				r.cfg.Progress()
			}
			if r.remaining == 0 {
				close(r.done)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	r.consumers = append(r.consumers, consumer{cc: lc})
	return nil
}

// submitAll sends every article with Concurrency submitters, each a
// write, a key-value update and a publish.
func (r *run) submitAll(ctx context.Context) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for i := range next {
				id := strconv.Itoa(i)
				r.mu.Lock()
				r.sent[i] = time.Now()
				r.mu.Unlock()
				err := r.put(ctx, id, "original")
				if err == nil {
					err = r.step(ctx, id, "received")
				}
				if err == nil {
					err = r.publish(ctx, "floor.s1", id)
				}
				if err != nil {
					r.fail(fmt.Errorf("floor submit: %w", err))
					return
				}
			}
		})
	}
feed:
	for i := range r.cfg.Articles {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// wait returns when every article is done, or with the first failure.
func (r *run) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case err := <-r.errc:
		return err
	case <-ctx.Done():
		select {
		case err := <-r.errc:
			return err
		default:
			return ctx.Err()
		}
	}
}

// stop ends the consumers and their workers.
func (r *run) stop() {
	r.cancel()
	for _, c := range r.consumers {
		c.cc.Drain()
		<-c.cc.Closed()
		if c.work != nil {
			close(c.work)
		}
	}
	r.workers.Wait()
}
