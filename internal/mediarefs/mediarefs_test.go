package mediarefs

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

type fixture struct {
	refs  *Refs
	blobs *blob.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	_, nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.New(ctx, testenv.MinIO(t))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := Open(ctx, js, 1, blobs, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{refs: refs, blobs: blobs}
}

// photo stores a photo's files as imageproc does: renditions, then
// media.json; held ones under held/ as for an article under embargo.
func (f *fixture) photo(t *testing.T, sum string, counted, held bool) {
	t.Helper()
	ctx := context.Background()
	at := func(k string) string { return k }
	if held {
		at = layout.Held
	}
	m := &pb.Media{Sha256: sum, Counted: counted}
	for _, name := range []string{"w640.webp", "w1280.jpeg"} {
		key := layout.Media(sum, name)
		if err := f.blobs.Put(ctx, at(key), []byte("pixels"), "image/webp"); err != nil {
			t.Fatal(err)
		}
		m.Renditions = append(m.Renditions, &pb.Rendition{Key: key})
	}
	raw, _ := protojson.Marshal(m)
	if err := f.blobs.Put(ctx, at(layout.MediaIndex(sum)), raw, "application/json"); err != nil {
		t.Fatal(err)
	}
}

// files lists what is stored of the photo, public and held.
func (f *fixture) files(t *testing.T, sum string) []string {
	t.Helper()
	var keys []string
	for _, prefix := range []string{layout.Media(sum, ""), layout.Held(layout.Media(sum, ""))} {
		for info, err := range f.blobs.List(context.Background(), prefix) {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, info.Key)
		}
	}
	return keys
}

func (f *fixture) use(t *testing.T, sum string, articles ...string) {
	t.Helper()
	for _, a := range articles {
		if err := f.refs.Use(context.Background(), sum, a); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) release(t *testing.T, article string) []string {
	t.Helper()
	removed, err := f.refs.Release(context.Background(), article)
	if err != nil {
		t.Fatal(err)
	}
	return removed
}

const (
	shared  = "aaaa000000000000000000000000000000000000000000000000000000000001"
	onlyA   = "bbbb000000000000000000000000000000000000000000000000000000000002"
	heldB   = "cccc000000000000000000000000000000000000000000000000000000000003"
	oldSum  = "dddd000000000000000000000000000000000000000000000000000000000004"
	article = "01JARTICLEA0000000000000000"
	other   = "01JARTICLEB0000000000000000"
)

// TestReleaseRemovesWhatNoOneUses: a withdrawn article's photos go when
// no other article uses them, public and held files alike, and stay
// while one does; a release done twice does nothing the second time.
func TestReleaseRemovesWhatNoOneUses(t *testing.T) {
	f := newFixture(t)
	f.photo(t, shared, true, false)
	f.photo(t, onlyA, true, false)
	f.photo(t, heldB, true, true)
	f.use(t, shared, article, other)
	f.use(t, onlyA, article)
	f.use(t, heldB, other)

	if removed := f.release(t, article); !slices.Equal(removed, []string{onlyA}) {
		t.Errorf("releasing A removed %v; want only the photo no one else uses", removed)
	}
	if got := f.files(t, onlyA); len(got) != 0 {
		t.Errorf("A's own photo left files: %v", got)
	}
	if got := f.files(t, shared); len(got) != 3 {
		t.Errorf("the photo B still uses has %d files, want its 3: %v", len(got), got)
	}
	if removed := f.release(t, article); len(removed) != 0 {
		t.Errorf("a second release removed %v", removed)
	}

	if removed := f.release(t, other); !slices.Equal(removed, []string{shared, heldB}) {
		t.Errorf("releasing B removed %v; want both its photos", removed)
	}
	for _, sum := range []string{shared, heldB} {
		if got := f.files(t, sum); len(got) != 0 {
			t.Errorf("%s left files: %v", sum[:4], got)
		}
	}
}

// TestOlderPhotosStay: renditions made before references were kept (an
// article with no reference may use them) are never removed.
func TestOlderPhotosStay(t *testing.T) {
	f := newFixture(t)
	f.photo(t, oldSum, false, false)
	f.use(t, oldSum, article)
	if removed := f.release(t, article); len(removed) != 0 {
		t.Errorf("removed %v", removed)
	}
	if got := f.files(t, oldSum); len(got) != 3 {
		t.Errorf("%d files left, want 3", len(got))
	}
}

// TestUseWaitsForARemoval: an article that takes a reference while the
// photo's files are being removed is told to try again (it then makes
// the renditions anew); once the removal is over, Use succeeds and the
// reference holds the next removal off.
func TestUseWaitsForARemoval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inside, leave := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- f.refs.removals.Hold(ctx, shared, "a removal", func(context.Context) error {
			close(inside)
			<-leave
			return nil
		})
	}()
	<-inside
	err := f.refs.Use(ctx, shared, other)
	if !errors.Is(err, ErrRemoving) {
		t.Fatalf("Use during a removal: %v; want ErrRemoving", err)
	}
	if d, ok := fault.RetryAfter(err); !ok || d <= 0 || d > 5*time.Second {
		t.Errorf("Use during a removal asks to retry after %v (%v)", d, ok)
	}
	close(leave)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	f.use(t, shared, other)

	f.photo(t, shared, true, false)
	f.use(t, shared, article)
	if removed := f.release(t, article); len(removed) != 0 {
		t.Errorf("released A with B's reference taken during a removal; removed %v", removed)
	}
}
