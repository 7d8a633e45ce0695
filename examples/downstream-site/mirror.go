package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/subscriber"
)

// Mirror keeps a folder equal to a site's live articles: <id>.json is the
// ninjs of the newest version, and a withdrawn article has no file. It
// remembers the last version applied per article in .applied.json, so an
// event that comes again changes nothing.
type Mirror struct {
	Dir    string
	Client *http.Client

	mu      sync.Mutex
	applied map[string]uint32 // article id → last version applied
	// Changes counts what Apply did, for the example's output and tests.
	Changes int
}

var validID = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// Open reads the folder's record of applied versions.
func Open(dir string, client *http.Client) (*Mirror, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m := &Mirror{Dir: dir, Client: client, applied: map[string]uint32{}}
	data, err := os.ReadFile(filepath.Join(dir, ".applied.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m.applied); err != nil {
			return nil, fmt.Errorf("%s/.applied.json: %w", dir, err)
		}
	}
	return m, nil
}

// Apply brings one event into the folder.
func (m *Mirror) Apply(ctx context.Context, ev subscriber.Event) error {
	if !validID.MatchString(ev.ArticleID) {
		return nil // nothing a folder could be named after
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.Version <= m.applied[ev.ArticleID] {
		return nil // seen: a redelivery or a replay
	}
	file := filepath.Join(m.Dir, ev.ArticleID+".json")
	switch ev.Kind {
	case events.Published, events.Updated:
		// The event carries the document, unless it was too large.
		doc, err := []byte(ev.Ninjs), error(nil)
		if len(doc) == 0 {
			doc, err = m.fetch(ctx, ev.NinjsURL)
		}
		if errors.Is(err, errGone) {
			// Withdrawn since: its withdrawal follows in the stream.
			break
		}
		if err != nil {
			return err
		}
		if err := writeFile(file, doc); err != nil {
			return err
		}
	case events.Withdrawn:
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	default:
		return nil
	}
	m.applied[ev.ArticleID] = ev.Version
	m.Changes++
	data, err := json.Marshal(m.applied)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(m.Dir, ".applied.json"), data)
}

var errGone = errors.New("gone")

func (m *Mirror) fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, errGone
	case resp.StatusCode != http.StatusOK:
		return nil, errors.New("GET " + url + ": " + strconv.Itoa(resp.StatusCode))
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// writeFile replaces a file whole: a crash leaves the old or the new one.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
