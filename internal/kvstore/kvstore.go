// Package kvstore opens Pressline's JetStream key-value buckets with one
// policy for all of them: reads that decide something see the latest
// write, and a revision conflict is recognised the same way on one server
// and on a replicated cluster.
//
// The client library creates every bucket with direct get on, which lets
// any replica answer a read, a follower included; a follower that has not
// applied the last write answers with the value before it (no
// read-after-write, nats-io/nats-server#6557). Publish decides "already
// published" and "stale version", and ingest decides "which version is
// next", on such reads, so Pressline reads from the stream leader.
package kvstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is a key-value bucket whose Get is answered by the stream leader.
// Get and Create are its own (the library's would ask for a direct get,
// which the stream no longer answers); everything else (writes, watches,
// key lists) is the library's.
type Bucket struct {
	jetstream.KeyValue
	stream jetstream.Stream // bound with direct get off: reads go to the leader
	prefix string
}

// Open creates or updates the bucket to cfg and returns it. Each try is
// bounded (a JetStream request under load can go unanswered, and the
// caller's deadline may be minutes away), and a try that fails on
// something JetStream may get over is made again, six in all.
func Open(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (*Bucket, error) {
	wait := 250 * time.Millisecond
	for try := 1; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, requestTimeout)
		b, err := open(tctx, js, cfg)
		cancel()
		if err == nil || try == 6 || !Transient(err) || ctx.Err() != nil {
			return b, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
			wait *= 2
		}
	}
}

// errCodeNoPeers is nats-server's JSClusterNoPeersErrF, which nats.go
// has no name for: a replicated stream cannot be placed.
const errCodeNoPeers jetstream.ErrorCode = 10005

// Transient reports whether a JetStream request may succeed if sent
// again: a timeout, no responders, JetStream unavailable (no leader or
// no quorum yet), or a replicated stream with no peers to place it on
// while a node is down. The last is also the answer when the cluster
// has fewer nodes than replicas asked; callers that retry it bound the
// retries (declaring a stream gives up after minutes) so that the
// mistake is still reported.
func Transient(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		(errors.As(err, &apiErr) && (apiErr.Code == 503 || apiErr.ErrorCode == errCodeNoPeers))
}

func open(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (*Bucket, error) {
	// A bucket already as asked is opened without a configuration
	// update: every process starting would otherwise update it (twice,
	// with direct get), and nats-server 2.15.3 races a stream's update
	// against consumers being made on it (seen by the race detector).
	if s, err := js.Stream(ctx, streamName(cfg.Bucket)); err == nil && matches(s.CachedInfo().Config, cfg) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		return &Bucket{KeyValue: kv, stream: s, prefix: "$KV." + cfg.Bucket + "."}, nil
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another process made it between the look and the create (and
		// may have turned direct get off already, so its configuration
		// is not the one asked): open it as it is now.
		if kv, err = js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	// CreateOrUpdateKeyValue always turns direct get on, so another
	// process starting may turn it back on after this one turned it off
	// (and the answer to an update may already show the next one's).
	// That is harmless once this process has a stream handle whose own
	// view of the configuration has it off: only that view decides how
	// Get reads.
	var s jetstream.Stream
	for try := 0; ; try++ {
		if s, err = js.Stream(ctx, streamName(cfg.Bucket)); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		c := s.CachedInfo().Config
		if !c.AllowDirect {
			break
		}
		if try == 10 {
			return nil, fmt.Errorf("bucket %s: direct get is still on after %d tries to turn it off", cfg.Bucket, try)
		}
		c.AllowDirect = false
		if _, err := js.UpdateStream(ctx, c); err != nil {
			return nil, fmt.Errorf("bucket %s: turning direct get off: %w", cfg.Bucket, err)
		}
	}
	return &Bucket{KeyValue: kv, stream: s, prefix: "$KV." + cfg.Bucket + "."}, nil
}

// matches reports whether a bucket's stream has what cfg asks for, and
// direct get off.
func matches(sc jetstream.StreamConfig, cfg jetstream.KeyValueConfig) bool {
	history := int64(max(cfg.History, 1))
	replicas := max(cfg.Replicas, 1)
	return !sc.AllowDirect && sc.Description == cfg.Description && sc.Storage == cfg.Storage &&
		sc.Replicas == replicas && sc.MaxMsgsPerSubject == history && sc.MaxAge == cfg.TTL
}

// streamName is the library's name for a bucket's stream.
func streamName(bucket string) string { return "KV_" + bucket }

// Get returns the latest value of key as the stream leader has it, or
// jetstream.ErrKeyNotFound (also for a deleted or purged key).
func (b *Bucket) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	m, err := b.last(ctx, key)
	if err != nil {
		return nil, err
	}
	if isMarker(m) {
		return nil, jetstream.ErrKeyNotFound
	}
	return entry{bucket: b.Bucket(), key: key, msg: m}, nil
}

// Create writes value at key if the key has none (never written, deleted
// or purged), and is a conflict (IsConflict) if it has one.
func (b *Bucket) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.KeyValue.Update(ctx, key, value, 0) // revision 0: no message yet
	if !IsConflict(err) {
		return rev, err
	}
	m, gerr := b.last(ctx, key)
	if gerr != nil || !isMarker(m) {
		return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyExists)
	}
	return b.KeyValue.Update(ctx, key, value, m.Sequence) // over the marker
}

// requestTimeout bounds one read, whatever the caller's deadline: a
// request sent while a node rejoins the cluster can go unanswered, and a
// stage's handler (minutes of deadline) would wait all that time for it
// (TestPartitionedNodeCatchesUp).
const requestTimeout = 10 * time.Second

// last is the key's last message, value or marker, as the leader has it.
func (b *Bucket) last(ctx context.Context, key string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	m, err := b.stream.GetLastMsgForSubject(ctx, b.prefix+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, jetstream.ErrKeyNotFound
	}
	return m, err
}

// isMarker: a delete, a purge or a TTL's removal is a marker message, not
// a value.
func isMarker(m *jetstream.RawStreamMsg) bool {
	return m.Header.Get("KV-Operation") != "" || m.Header.Get(jetstream.MarkerReasonHeader) != ""
}

// IsConflict reports whether err is a write that lost to another writer
// (Create of a key that exists, Update or Delete over a stale revision).
// A replicated stream reports it with another error code than a single
// server (10164, not 10071); the library maps both to these errors.
func IsConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// Backoff waits before the attempt-th retry (from 0) of a write that lost
// a conflict. A replicated stream refuses a write over a revision while an
// earlier write to the same key is still being replicated, so a retry at
// once mostly loses again: writers spread out, 1 ms doubling to 64 ms,
// jittered.
func Backoff(ctx context.Context, attempt int) error {
	d := time.Millisecond << min(attempt, 6)
	t := time.NewTimer(d/2 + rand.N(d/2))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type entry struct {
	bucket, key string
	msg         *jetstream.RawStreamMsg
}

func (e entry) Bucket() string                  { return e.bucket }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.msg.Data }
func (e entry) Revision() uint64                { return e.msg.Sequence }
func (e entry) Created() time.Time              { return e.msg.Time }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
