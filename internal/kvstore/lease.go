package kvstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases are keys in a bucket whose entries expire TTL after they were
// last written: the holder writes its key again every TTL/3, and when it
// stops (crashed, cut off) the key expires and another process takes it.
type Leases struct {
	b   *Bucket
	ttl time.Duration
	log func(msg string, args ...any)
}

// OpenLeases opens (creating) the lease bucket; ttl is how long a lease
// outlives its holder's last renewal.
func OpenLeases(ctx context.Context, js jetstream.JetStream, bucket string, replicas int, ttl time.Duration, log func(msg string, args ...any)) (*Leases, error) {
	b, err := Open(ctx, js, jetstream.KeyValueConfig{
		Bucket: bucket, Description: "Pressline leases: which process does a job that must have one doer.",
		Storage: jetstream.FileStorage, Replicas: replicas, History: 1, TTL: ttl,
	})
	if err != nil {
		return nil, err
	}
	return &Leases{b: b, ttl: ttl, log: log}, nil
}

// Hold runs job while this process holds the lease name, as owner, and
// until ctx ends. A process that does not hold it waits and tries again
// every TTL/3; the holder renews it as often, and stops job (cancels its
// context and waits for it) when a renewal has not succeeded for TTL/2,
// before the lease can expire and another process take it. On ctx's end
// the lease is given up at once, so a successor need not wait out the
// TTL. job returning ends Hold with its error.
func (l *Leases) Hold(ctx context.Context, name, owner string, job func(context.Context) error) error {
	every := l.ttl / 3
	for {
		rev, err := l.b.Create(ctx, name, []byte(owner))
		switch {
		case err == nil:
			if lost, err := l.run(ctx, name, owner, rev, job); !lost || ctx.Err() != nil {
				return err
			}
			l.log("lease lost", "lease", name, "owner", owner)
		case IsConflict(err):
			// another process holds it
		case ctx.Err() != nil:
			return nil
		default:
			l.log("lease not taken; will try again", "lease", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// run does job under the lease taken at revision rev, renewing it, until
// the job ends (its error) or the lease is lost (lost, the job stopped).
func (l *Leases) run(ctx context.Context, name, owner string, rev uint64, job func(context.Context) error) (lost bool, err error) {
	jobCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- job(jobCtx) }()
	defer func() {
		// Given up with a context of its own: ctx may be over.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := l.b.Delete(rctx, name, jetstream.LastRevision(rev)); err != nil {
			l.log("lease not given up; it expires", "lease", name, "err", err)
		}
	}()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case err := <-done:
			stop()
			if err != nil {
				return false, fmt.Errorf("lease %s: %w", name, err)
			}
			return false, nil
		case <-tick.C:
			next, err := l.b.Update(ctx, name, []byte(owner), rev)
			switch {
			case err == nil:
				rev, renewed = next, time.Now()
				continue
			case IsConflict(err), errors.Is(err, jetstream.ErrKeyNotFound):
				// It expired and someone else has it: stop at once.
			case time.Since(renewed) < l.ttl/2:
				continue // NATS briefly away: there is time to try again
			}
			stop()
			<-done
			return true, nil
		}
	}
}

// Held reports whether the lease name is held now, as the stream leader
// has it: a lease given up or expired is not.
func (l *Leases) Held(ctx context.Context, name string) (bool, error) {
	_, err := l.b.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}
