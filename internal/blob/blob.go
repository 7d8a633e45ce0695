// Package blob stores and reads objects in S3-compatible storage (MinIO in
// production, the embedded server in development) through minio-go. Every
// failure other than a missing object is classified as retryable: storage
// that is down now is expected to come back.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/ops"
)

// ErrNotFound is returned (wrapped) when an object does not exist.
var ErrNotFound = errors.New("object not found")

// Config says which S3 endpoint and bucket to use.
type Config struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	Secure    bool // https
	// Metrics, when set, records the duration of every operation.
	Metrics *Metrics
}

// Store is a bucket in S3-compatible storage.
type Store struct {
	client    *minio.Client
	bucket    string
	metrics   *Metrics
	transport *http.Transport
}

// Info describes a stored object.
type Info struct {
	Key          string
	Size         int64
	ContentType  string
	LastModified time.Time
	ETag         string
	// Metadata is the object's user metadata (x-amz-meta-*), keys in
	// canonical form ("Pressline-Ref"); filled by Stat.
	Metadata map[string]string
}

// New connects to the endpoint and makes sure the bucket exists.
func New(ctx context.Context, cfg Config) (*Store, error) {
	transport, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("blob: transport: %w", err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: client for %s: %w", cfg.Endpoint, err)
	}
	s := &Store{client: client, bucket: cfg.Bucket, metrics: cfg.Metrics, transport: transport}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureBucket(ctx context.Context) error {
	done := s.observe("ensure_bucket")
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err == nil && !exists {
		err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
		if minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
			err = nil // another service made it first
		}
	}
	done(err)
	if err != nil {
		return fmt.Errorf("blob: bucket %s: %w", s.bucket, classify(err))
	}
	return nil
}

// Close drops the store's idle connections: a server shutting down
// gracefully (the embedded one) need not wait for them to time out.
func (s *Store) Close() { s.transport.CloseIdleConnections() }

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Put stores data under key, replacing what was there.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	return s.PutReader(ctx, key, bytes.NewReader(data), int64(len(data)), contentType)
}

// PutWithMetadata stores data with user metadata (ASCII values, 2 KiB in
// all at most, as S3 allows).
func (s *Store) PutWithMetadata(ctx context.Context, key string, data []byte, contentType string, meta map[string]string) error {
	return s.put(ctx, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ContentType: contentType, UserMetadata: meta})
}

// PutReader stores size bytes from r under key; size -1 streams an unknown
// length as a multipart upload.
func (s *Store) PutReader(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	return s.put(ctx, key, r, size, minio.PutObjectOptions{ContentType: contentType})
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, opts minio.PutObjectOptions) error {
	done := s.observe("put")
	_, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts)
	done(err)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, classify(err))
	}
	return nil
}

// Copy copies the object at src to dst within the bucket, on the server.
func (s *Store) Copy(ctx context.Context, dst, src string) error {
	done := s.observe("copy")
	_, err := s.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: dst}, minio.CopySrcOptions{Bucket: s.bucket, Object: src})
	done(err)
	if err != nil {
		return fmt.Errorf("blob: copy %s to %s: %w", src, dst, classify(err))
	}
	return nil
}

// Get reads the whole object at key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	// One GET, without the Stat that Open makes: minio-go pins the ETag it
	// stats, and an object replaced in between then fails to read. Feeds
	// and pages are rewritten while people read them.
	done := s.observe("get")
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	var data []byte
	if err == nil {
		data, err = io.ReadAll(obj)
		obj.Close()
	}
	done(err)
	if err != nil {
		return nil, fmt.Errorf("blob: read %s: %w", key, classify(err))
	}
	return data, nil
}

// Open returns a reader for the object at key and what is known of it. The
// caller closes the reader.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	done := s.observe("get")
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	var st minio.ObjectInfo
	if err == nil {
		// GetObject is lazy; Stat makes the request so a missing object is
		// reported here rather than on the first Read.
		st, err = obj.Stat()
	}
	done(err)
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		return nil, Info{}, fmt.Errorf("blob: get %s: %w", key, classify(err))
	}
	return obj, infoOf(st), nil
}

// Stat describes the object at key without reading it.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	done := s.observe("stat")
	st, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	done(err)
	if err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, classify(err))
	}
	return infoOf(st), nil
}

// Delete removes the object at key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	done := s.observe("delete")
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	done(err)
	if err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, classify(err))
	}
	return nil
}

// List yields every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return s.ListAfter(ctx, prefix, "")
}

// ListAfter is List starting after the key startAfter, so a scan of keys
// that sort by time (ULIDs) can begin at a point in time.
func (s *Store) ListAfter(ctx context.Context, prefix, startAfter string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops minio-go's listing goroutine if we stop early
		opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: startAfter}
		for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
			if obj.Err != nil {
				yield(Info{}, fmt.Errorf("blob: list %s: %w", prefix, classify(obj.Err)))
				return
			}
			if !yield(infoOf(obj), nil) {
				return
			}
		}
	}
}

// Ping checks that the bucket is reachable, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: ping: %w", classify(err))
	}
	return nil
}

func infoOf(o minio.ObjectInfo) Info {
	info := Info{Key: o.Key, Size: o.Size, ContentType: o.ContentType, LastModified: o.LastModified, ETag: o.ETag}
	for k, v := range o.UserMetadata {
		if info.Metadata == nil {
			info.Metadata = map[string]string{}
		}
		info.Metadata[http.CanonicalHeaderKey(strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-"))] = v
	}
	return info
}

// classify marks a missing object with ErrNotFound and everything else as
// retryable: network failures, 5xx, throttling and even credential errors
// are fixed by time or by an operator, after which a retry succeeds.
func classify(err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fault.Retry(err, time.Second)
}

func (s *Store) observe(op string) func(error) {
	if s.metrics == nil {
		return func(error) {}
	}
	start := time.Now()
	return func(err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
			if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
				outcome = "not_found"
			}
		}
		s.metrics.duration.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
		s.metrics.mu.Lock()
		s.metrics.requests[op]++
		s.metrics.mu.Unlock()
	}
}

// Metrics records S3 operation durations. Build one per process and share
// it between stores: all stores of a process report into one histogram.
type Metrics struct {
	duration *prometheus.HistogramVec
	mu       sync.Mutex
	requests map[string]uint64 // by operation, for Requests
}

// Requests counts the S3 requests made so far, by operation (put, get,
// stat, delete, copy, list…): what `pressline bench` reports per article,
// and what the round-trip test holds to a budget.
func (m *Metrics) Requests() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.requests)
}

// NewMetrics registers the blob metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: map[string]uint64{},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ops.Namespace,
			Subsystem: "s3",
			Name:      "operation_duration_seconds",
			Help:      "Duration of S3 operations, by operation and outcome (ok, not_found, error).",
			Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "outcome"}),
	}
	reg.MustRegister(m.duration)
	return m
}
