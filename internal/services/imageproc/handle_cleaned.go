package imageproc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/imaging"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/safefetch"
	"github.com/pressline/pressline/internal/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (s *Service) handleCleaned(ctx context.Context, m *bus.Msg) error {
	var ev pb.ArticleCleaned
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("imageproc %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	var article pb.Article
	if err := claimcheck.OpenMessage(ctx, s.cfg.Blobs, ev.GetContent(), &article); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	lastTry := m.Attempt >= min(s.cfg.FetchAttempts, s.cfg.Consumer.MaxAttempts)
	// Only this submission's own files may be read as uploads: a source
	// the content itself spells "upload:<key>" would otherwise read any
	// stored file, another newsroom's embargoed photo included.
	own := map[string]bool{}
	for _, u := range ref.GetUploads() {
		own[u.GetKey()] = true
	}
	article.Blocks = placeUploads(article.Blocks, ref.GetUploads())
	// An embargoed article's photos must not be public before it is: their
	// renditions wait under held/ until publish releases the article.
	at := placer{held: ref.GetEmbargoUntil() != nil && ref.GetEmbargoUntil().AsTime().After(time.Now()), article: ref.GetId()}
	var kept []*pb.Block
	counts := map[string]int{}
	// The lead photo, the first image block that gets renditions, is
	// the one pages and search engines show for the article: it gets
	// the crops too.
	leadDone := false
	// handleImage renders one image and reports whether it stays.
	handled, over := 0, 0 // images looked at; those past the limit, left out
	handleImage := func(img *pb.Image, warn, lead bool) (bool, error) {
		if handled++; handled > s.cfg.MaxImages {
			over++
			return false, nil
		}
		// A thumbnail (no warning wanted) is worth no retry either.
		outcome, err := s.image(ctx, m.Log, img, own, at, lastTry || !warn, lead)
		if err != nil {
			return false, err
		}
		counts[outcome.name]++
		s.images.WithLabelValues(outcome.name).Inc()
		if outcome.warning != "" && warn {
			article.Warnings = append(article.Warnings, &pb.Warning{Code: outcome.code, Message: outcome.warning})
			m.Log.Warn("image left out", "src", img.GetSrc(), "reason", outcome.warning)
		}
		return !outcome.drop, nil
	}
	for _, b := range article.Blocks {
		switch k := b.GetKind().(type) {
		case *pb.Block_Image:
			keep, err := handleImage(k.Image, true, !leadDone)
			if err != nil {
				return fmt.Errorf("imageproc %s: %w", ref.GetId(), err) // retry the article
			}
			if !keep {
				continue
			}
			leadDone = leadDone || k.Image.GetMedia() != nil
		case *pb.Block_Gallery:
			var imgs []*pb.Image
			for _, img := range k.Gallery.GetImages() {
				keep, err := handleImage(img, true, false)
				if err != nil {
					return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
				}
				if keep {
					imgs = append(imgs, img)
				}
			}
			if k.Gallery.Images = imgs; len(imgs) == 0 {
				continue
			}
		case *pb.Block_Embed:
			// The thumbnail is the platform's picture: made into the
			// site's own renditions, so the page asks the platform for
			// nothing; one that cannot be had is simply not shown.
			if th := k.Embed.GetThumbnail(); th != "" && k.Embed.GetThumbnailMedia() == nil {
				img := &pb.Image{Src: th}
				keep, err := handleImage(img, false, false)
				if err != nil {
					return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
				}
				if keep && img.GetMedia() != nil {
					k.Embed.ThumbnailMedia = img.Media
				}
			}
		}
		kept = append(kept, b)
	}
	article.Blocks = kept
	if over > 0 {
		counts["over_limit"] = over
		s.images.WithLabelValues("over_limit").Add(float64(over))
		article.Warnings = append(article.Warnings, &pb.Warning{Code: "images_over_limit",
			Message: fmt.Sprintf("%d images past the limit of %d per article were left out; split the article or ask an operator to raise --max-article-images", over, s.cfg.MaxImages)})
	}

	data, err := proto.Marshal(&article)
	if err != nil {
		return fault.Permanent(fmt.Errorf("imageproc %s: encode: %w", ref.GetId(), err))
	}
	payload := ev.GetContent()
	if len(counts) > 0 { // the article changed: carry the new one
		if payload, err = claimcheck.Pack(ctx, s.cfg.Blobs, layout.MediaClaim(ref.GetId(), ref.GetVersion()), data, "application/protobuf", s.cfg.InlineLimit); err != nil {
			return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
		}
	}
	detail := "no images"
	if len(counts) > 0 {
		var parts []string
		for _, k := range []string{"rendered", "reused", "refused", "unreachable", "no_source", "over_limit"} {
			if counts[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			}
		}
		detail = "images: " + strings.Join(parts, ", ")
	}
	// The status first, then the event: publish reads the status when
	// the event comes, and must find this step there (a write racing
	// its own would lose the revision check and be made again). It is
	// written on the record clean's event carries, with no read before
	// it (read again if someone wrote since).
	var known *pb.ArticleStatus
	if raw := ev.GetStatus(); len(raw) > 0 {
		known = &pb.ArticleStatus{}
		if proto.Unmarshal(raw, known) != nil {
			known = nil
		}
	}
	if err := s.cfg.Status.RecordOn(ctx, known, ev.GetStatusRevision(), ref, status.Step{Stage: Stage, State: status.MediaReady, Detail: detail, Warnings: article.GetWarnings()}); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	out := &pb.MediaReady{Article: ref, Content: payload}
	if err := s.cfg.Bus.Publish(ctx, layout.MediaReadySubject(ref.GetId()), bus.MsgID(ref, "media_ready"), ref, out); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	m.Log.Info("media ready", "detail", detail)
	return nil
}

// outcome is what happened to one image.
type outcome struct {
	name    string // metric label
	code    string // warning code, when there is a warning
	warning string
	drop    bool // leave the block out of the article
}

// image gives img its renditions. It returns an error only for what a
// retry may fix; everything else is an outcome with a warning.
func (s *Service) image(ctx context.Context, log *slog.Logger, img *pb.Image, own map[string]bool, at placer, lastTry, lead bool) (outcome, error) {
	if img.GetMedia() != nil {
		return outcome{name: "reused"}, nil // a redelivery after a partial run
	}
	label := img.GetCaption()
	if label == "" {
		label = path.Base(strings.TrimPrefix(img.GetSrc(), uploadScheme))
	}
	src := img.GetSrc()
	if key, ok := strings.CutPrefix(src, uploadScheme); ok {
		if !own[key] {
			return outcome{name: "refused", code: "image_not_uploaded", drop: true,
				warning: fmt.Sprintf("the image %q names a stored file that was not sent with this article; it was left out: send the file with the article", excerpt(label))}, nil
		}
		data, err := s.cfg.Blobs.Get(ctx, key)
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return outcome{name: "unreachable", code: "image_unreachable", drop: true,
					warning: fmt.Sprintf("the uploaded image %q is missing from storage; it was left out", excerpt(label))}, nil
			}
			return outcome{}, err
		}
		return s.render(ctx, log, img, label, data, lead, at)
	}
	if src == "" {
		return outcome{name: "no_source", code: "image_no_source",
			warning: fmt.Sprintf("the image %q has no file: the export lost it; add the photo before publishing", excerpt(label))}, nil
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return outcome{name: "no_source", code: "image_no_source",
			warning: fmt.Sprintf("the image %q names %q, which is not a URL Pressline can fetch; upload the file with the article", excerpt(label), src)}, nil
	}
	data, _, err := s.cfg.Fetcher.Get(ctx, src)
	if err != nil {
		var st *safefetch.StatusError
		permanent := errors.Is(err, safefetch.ErrRefused) || errors.Is(err, safefetch.ErrTooLarge) ||
			(errors.As(err, &st) && st.Code >= 400 && st.Code < 500 && st.Code != 408 && st.Code != 429)
		if !permanent && !lastTry {
			return outcome{}, fault.Retry(fmt.Errorf("fetch %s: %w", src, err), 0)
		}
		return outcome{name: "unreachable", code: "image_unreachable", drop: true,
			warning: fmt.Sprintf("the image %q could not be fetched from %s: %v; it was left out", excerpt(label), src, err)}, nil
	}
	return s.render(ctx, log, img, label, data, lead, at)
}

// render gives img the renditions of data, and the crops if it leads.
func (s *Service) render(ctx context.Context, log *slog.Logger, img *pb.Image, label string, data []byte, lead bool, at placer) (outcome, error) {
	media, reused, err := s.media(ctx, log, data, lead, at)
	if r, ok := imaging.IsRefusal(err); ok {
		return outcome{name: "refused", code: "image_refused", drop: true,
			warning: fmt.Sprintf("the image %q was refused: %s; it was left out", excerpt(label), r.Reason)}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	img.Media = media
	// The article's own caption and credit win; the photographer's
	// embedded ones fill what the newsroom left empty.
	if img.Caption == "" {
		img.Caption = media.GetEmbeddedCaption()
	}
	if img.Credit == "" {
		img.Credit = media.GetCreator()
	}
	if reused {
		return outcome{name: "reused"}, nil
	}
	return outcome{name: "rendered"}, nil
}

var mediaJSON = protojson.MarshalOptions{UseProtoNames: true}

// media returns the renditions of a source, making and storing them the
// first time it is seen, and its crops the first time it leads an
// article. media.json is written last, so its presence means every
// rendition it lists is stored.
func (s *Service) media(ctx context.Context, log *slog.Logger, data []byte, lead bool, at placer) (*pb.Media, bool, error) {
	sum := imaging.SHA256(data)
	// The reference first: from then on the photo's files stay, or, if
	// they are being removed, this waits and makes them again.
	if err := s.cfg.Refs.Use(ctx, sum, at.article); err != nil {
		return nil, false, err
	}
	metaKey := layout.MediaIndex(sum)
	raw, err := s.cfg.Blobs.Get(ctx, metaKey)
	if errors.Is(err, blob.ErrNotFound) && at.held {
		// Not public yet; made for another held article, perhaps.
		raw, err = s.cfg.Blobs.Get(ctx, at.key(metaKey))
	}
	if err == nil {
		var m pb.Media
		if err := protojson.Unmarshal(raw, &m); err == nil {
			if !lead || len(m.Crops) > 0 {
				return &m, true, nil
			}
			// Its renditions are reused; only the crops are new.
			release, err := s.cfg.Processor.Admit(ctx, data)
			if err != nil {
				return nil, false, err
			}
			defer release()
			if err := s.crops(ctx, log, data, &m, at); err != nil {
				return nil, false, err
			}
			return &m, true, s.putMedia(ctx, &m, at)
		}
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, false, err
	}
	// Decoding is where memory goes: the images worked on at once stay
	// within the processor's budget (--image-memory).
	release, err := s.cfg.Processor.Admit(ctx, data)
	if err != nil {
		return nil, false, err
	}
	defer release()
	res, err := s.cfg.Processor.Process(data)
	if err != nil {
		return nil, false, err
	}
	m := &pb.Media{Sha256: res.SHA256, Width: int32(res.Width), Height: int32(res.Height), Blurhash: res.BlurHash, Color: res.Color,
		EmbeddedCaption: res.Metadata.Caption, Creator: cmp.Or(res.Metadata.Credit, res.Metadata.Creator), Copyright: res.Metadata.Copyright,
		FocalX: float32(res.FocalX), FocalY: float32(res.FocalY), Counted: true}
	for _, r := range res.Renditions {
		stored, err := s.store(ctx, res.SHA256, r, at)
		if err != nil {
			return nil, false, err
		}
		m.Renditions = append(m.Renditions, stored)
	}
	if lead {
		if err := s.crops(ctx, log, data, m, at); err != nil {
			return nil, false, err
		}
	}
	return m, false, s.putMedia(ctx, m, at)
}

// crops makes and stores the crops of m's source. A photo that gave its
// renditions but not its crops keeps the renditions: the crops are for
// search engines, which then take the whole photo.
func (s *Service) crops(ctx context.Context, log *slog.Logger, data []byte, m *pb.Media, at placer) error {
	crops, err := s.cfg.Processor.Crops(data, int(m.GetWidth()), int(m.GetHeight()), float64(m.GetFocalX()), float64(m.GetFocalY()))
	if err != nil {
		log.Warn("no crops for the lead photo", "sha256", m.GetSha256(), "err", err)
		return nil
	}
	for _, r := range crops {
		stored, err := s.store(ctx, m.GetSha256(), r, at)
		if err != nil {
			return err
		}
		m.Crops = append(m.Crops, stored)
	}
	return nil
}

// placer says where an article's media files go: at their public keys,
// or, for an article under embargo, held until publish releases it (the
// article names the public keys either way); and whose they are, the
// article that holds a reference to each (mediarefs).
type placer struct {
	held    bool
	article string
}

func (p placer) key(public string) string {
	if p.held {
		return layout.Held(public)
	}
	return public
}

// store puts one rendition or crop of the source sum under its media
// key, and returns what media.json says of it.
func (s *Service) store(ctx context.Context, sum string, r imaging.Rendition, at placer) (*pb.Rendition, error) {
	key := layout.Media(sum, r.Name())
	if err := s.cfg.Blobs.Put(ctx, at.key(key), r.Data, "image/"+string(r.Format)); err != nil {
		return nil, err
	}
	return &pb.Rendition{Key: key, Width: int32(r.Width), Height: int32(r.Height),
		Format: string(r.Format), Bytes: int64(r.Bytes), Animated: r.Animated, Aspect: r.Aspect}, nil
}

func (s *Service) putMedia(ctx context.Context, m *pb.Media, at placer) error {
	raw, err := mediaJSON.Marshal(m)
	if err != nil {
		return err
	}
	return s.cfg.Blobs.Put(ctx, at.key(layout.MediaIndex(m.GetSha256())), raw, "application/json")
}

func excerpt(s string) string {
	r := []rune(s)
	if len(r) <= 60 {
		return s
	}
	return string(r[:60]) + "…"
}
