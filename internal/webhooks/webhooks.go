// Package webhooks keeps the webhook subscribers in a JetStream
// key-value bucket, one key per subscriber: the API (ingest) creates,
// changes and deletes them, and notify watches the bucket, so a change
// reaches the running delivery without a restart. --webhooks-file seeds
// the bucket with what it lists. Beside them, Log keeps every delivery
// attempt in a stream of its own for a week, for operators to read and
// redeliver from.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/kvstore"
)

// Bucket is the key-value bucket of the subscribers, by name.
const Bucket = "pressline_webhooks"

// Errors of the store; anything else is NATS's and may pass.
var (
	ErrNotFound = errors.New("webhooks: no such subscriber")
	ErrExists   = errors.New("webhooks: a subscriber of that name exists")
	// ErrConflict: the subscriber changed since it was read.
	ErrConflict = errors.New("webhooks: changed concurrently")
)

// Store reads and writes the subscribers.
type Store struct{ kv *kvstore.Bucket }

// Open creates the bucket if needed.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Webhook subscribers, by name, as the API and --webhooks-file made them.",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return &Store{kv: kv}, nil
}

// Create stores a new subscriber; ErrExists if its name is taken.
func (s *Store) Create(ctx context.Context, spec config.WebhookSpec) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, spec.Name, data); kvstore.IsConflict(err) {
		return ErrExists
	} else if err != nil {
		return fmt.Errorf("webhooks: create %s: %w", spec.Name, err)
	}
	return nil
}

// Get returns the subscriber and its revision, for Update.
func (s *Store) Get(ctx context.Context, name string) (config.WebhookSpec, uint64, error) {
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return config.WebhookSpec{}, 0, ErrNotFound
	}
	if err != nil {
		return config.WebhookSpec{}, 0, fmt.Errorf("webhooks: get %s: %w", name, err)
	}
	spec, err := decode(e.Value())
	return spec, e.Revision(), err
}

// Update writes spec over revision rev; ErrConflict if it changed since.
func (s *Store) Update(ctx context.Context, spec config.WebhookSpec, rev uint64) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if _, err := s.kv.Update(ctx, spec.Name, data, rev); kvstore.IsConflict(err) {
		return ErrConflict
	} else if err != nil {
		return fmt.Errorf("webhooks: update %s: %w", spec.Name, err)
	}
	return nil
}

// Change reads a subscriber, lets change alter it, and writes it over
// the revision read, reading again if someone else wrote in between. An
// error of change is returned as it is, with nothing written.
func (s *Store) Change(ctx context.Context, name string, change func(*config.WebhookSpec) error) (config.WebhookSpec, error) {
	for try := 0; ; try++ {
		spec, rev, err := s.Get(ctx, name)
		if err != nil {
			return spec, err
		}
		if err := change(&spec); err != nil {
			return spec, err
		}
		err = s.Update(ctx, spec, rev)
		if errors.Is(err, ErrConflict) && try < 5 {
			continue
		}
		return spec, err
	}
}

// Disable stops deliveries to a subscriber, saying why. It reports
// whether this call disabled it: one disabled already keeps its reason.
func (s *Store) Disable(ctx context.Context, name, reason string) (bool, error) {
	errAlready := errors.New("disabled already")
	_, err := s.Change(ctx, name, func(spec *config.WebhookSpec) error {
		if spec.Disabled {
			return errAlready
		}
		spec.Disabled, spec.DisabledReason = true, reason
		return nil
	})
	if errors.Is(err, errAlready) {
		return false, nil
	}
	return err == nil, err
}

// Delete removes a subscriber; ErrNotFound if there is none.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, _, err := s.Get(ctx, name); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("webhooks: delete %s: %w", name, err)
	}
	return nil
}

// List returns every subscriber, by name.
func (s *Store) List(ctx context.Context) ([]config.WebhookSpec, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	var out []config.WebhookSpec
	for _, name := range names {
		spec, _, err := s.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, spec)
	}
	return out, nil
}

// Seed creates each of hooks that is not in the bucket yet: a subscriber
// changed through the API keeps its changes over the file's.
func (s *Store) Seed(ctx context.Context, hooks []config.Webhook) error {
	for _, w := range hooks {
		if err := s.Create(ctx, w.Spec()); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	return nil
}

// Watch calls change with every subscriber as it is now, then with each
// change as it is made (spec nil for a deletion), until ctx ends.
func (s *Store) Watch(ctx context.Context, change func(name string, spec *config.WebhookSpec)) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("webhooks: the watch ended")
			}
			if e == nil {
				continue // the end of what was there at the start
			}
			if e.Operation() != jetstream.KeyValuePut {
				change(e.Key(), nil)
				continue
			}
			spec, err := decode(e.Value())
			if err != nil {
				return err
			}
			change(e.Key(), &spec)
		}
	}
}

func decode(data []byte) (config.WebhookSpec, error) {
	var spec config.WebhookSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return spec, fmt.Errorf("webhooks: %w", err)
	}
	return spec, nil
}
