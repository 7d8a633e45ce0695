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
	defer cancel()
	errc := make(chan error, 4)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
		cancel()
	}
	put := func(ctx context.Context, id, what string) error {
		return cfg.Store.Put(ctx, "floor/"+id+"/"+what, cfg.Payload, "application/octet-stream")
	}
	step := func(ctx context.Context, id, stage string) error {
		_, err := kv.Put(ctx, id, []byte(stage))
		return err
	}
	publish := func(ctx context.Context, subject, id string) error {
		msg := &nats.Msg{Subject: subject, Data: []byte(id), Header: nats.Header{}}
		_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(subject+"/"+id))
		return err
	}
	stages := []struct{ in, read, write, out string }{
		{"floor.s1", "original", "cleaned", "floor.s2"},
		{"floor.s2", "cleaned", "media", "floor.s3"},
		{"floor.s3", "media", "page", "floor.s4"},
	}
	type running struct {
		cc   jetstream.ConsumeContext
		work chan jetstream.Msg
	}
	var consumers []running
	var workers sync.WaitGroup
	defer func() {
		cancel()
		for _, c := range consumers {
			c.cc.Drain()
			<-c.cc.Closed()
			if c.work != nil {
				close(c.work)
			}
		}
		workers.Wait()
	}()
	for _, st := range stages {
		c, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "floor-" + st.write, FilterSubject: st.in,
			AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: cfg.Concurrency * 4})
		if err != nil {
			return Result{}, fmt.Errorf("floor: %w", err)
		}
		work := make(chan jetstream.Msg)
		for range cfg.Concurrency {
			workers.Go(func() {
				for m := range work {
					if ctx.Err() != nil {
						continue // failing: drain without work
					}
					id := string(m.Data())
					err := func() error {
						if _, err := cfg.Store.Get(ctx, "floor/"+id+"/"+st.read); err != nil {
							return err
						}
						if err := put(ctx, id, st.write); err != nil {
							return err
						}
						if err := step(ctx, id, st.write); err != nil {
							return err
						}
						return publish(ctx, st.out, id)
					}()
					if err != nil {
						fail(fmt.Errorf("floor %s: %w", st.write, err))
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
		}, jetstream.PullMaxMessages(cfg.Concurrency))
		if err != nil {
			close(work)
			return Result{}, fmt.Errorf("floor: %w", err)
		}
		consumers = append(consumers, running{cc, work})
	}

	sent := make([]time.Time, cfg.Articles)
	lat := make([]time.Duration, cfg.Articles)
	var mu sync.Mutex
	remaining := cfg.Articles
	done := make(chan struct{})
	last, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "floor-done", FilterSubject: "floor.s4", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return Result{}, fmt.Errorf("floor: %w", err)
	}
	lc, err := last.Consume(func(m jetstream.Msg) {
		i, _ := strconv.Atoi(string(m.Data()))
		_ = m.Ack()
		mu.Lock()
		defer mu.Unlock()
		if lat[i] == 0 {
			lat[i] = time.Since(sent[i])
			remaining--
			if cfg.Progress != nil {
				cfg.Progress()
			}
			if remaining == 0 {
				close(done)
			}
		}
	})
	if err != nil {
		return Result{}, fmt.Errorf("floor: %w", err)
	}
	consumers = append(consumers, running{cc: lc})

	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range next {
				id := strconv.Itoa(i)
				mu.Lock()
				sent[i] = time.Now()
				mu.Unlock()
				if err := put(ctx, id, "original"); err != nil {
					fail(fmt.Errorf("floor submit: %w", err))
					return
				}
				if err := step(ctx, id, "received"); err != nil {
					fail(fmt.Errorf("floor submit: %w", err))
					return
				}
				if err := publish(ctx, "floor.s1", id); err != nil {
					fail(fmt.Errorf("floor submit: %w", err))
					return
				}
			}
		})
	}
feed:
	for i := range cfg.Articles {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case <-done:
	case err := <-errc:
		return Result{}, err
	case <-ctx.Done():
		select {
		case err := <-errc:
			return Result{}, err
		default:
			return Result{}, ctx.Err()
		}
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return Result{Articles: cfg.Articles, Elapsed: elapsed, Throughput: float64(cfg.Articles) / elapsed.Seconds(), Latencies: lat}, nil
}
