package imageproc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/claimcheck"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/imaging"
	"github.com/pressline/pressline/pkg/safefetch"
	"github.com/pressline/pressline/pkg/status"
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
	article.Blocks = placeUploads(article.Blocks, ref.GetUploads())
	var kept []*pb.Block
	counts := map[string]int{}
	for _, b := range article.Blocks {
		img := b.GetImage()
		if img == nil {
			kept = append(kept, b)
			continue
		}
		outcome, err := s.image(ctx, img, lastTry)
		if err != nil {
			return fmt.Errorf("imageproc %s: %w", ref.GetId(), err) // retry the article
		}
		counts[outcome.name]++
		s.images.WithLabelValues(outcome.name).Inc()
		if outcome.warning != "" {
			article.Warnings = append(article.Warnings, &pb.Warning{Code: outcome.code, Message: outcome.warning})
			m.Log.Warn("image left out", "src", img.GetSrc(), "reason", outcome.warning)
		}
		if !outcome.drop {
			kept = append(kept, b)
		}
	}
	article.Blocks = kept

	data, err := proto.Marshal(&article)
	if err != nil {
		return fault.Permanent(fmt.Errorf("imageproc %s: encode: %w", ref.GetId(), err))
	}
	payload := ev.GetContent()
	if len(counts) > 0 { // the article changed: carry the new one
		key := fmt.Sprintf("articles/%s/v%d/media.pb", ref.GetId(), ref.GetVersion())
		if payload, err = claimcheck.Pack(ctx, s.cfg.Blobs, key, data, "application/protobuf", s.cfg.InlineLimit); err != nil {
			return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
		}
	}
	out := &pb.MediaReady{Article: ref, Content: payload}
	if err := s.cfg.Bus.Publish(ctx, bus.SubjectMediaReady, bus.MsgID(ref, "media_ready"), ref, out); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	detail := "no images"
	if len(counts) > 0 {
		var parts []string
		for _, k := range []string{"rendered", "reused", "refused", "unreachable", "no_source"} {
			if counts[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
			}
		}
		detail = "images: " + strings.Join(parts, ", ")
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.MediaReady, Detail: detail, Warnings: article.GetWarnings()}); err != nil {
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
func (s *Service) image(ctx context.Context, img *pb.Image, lastTry bool) (outcome, error) {
	if img.GetMedia() != nil {
		return outcome{name: "reused"}, nil // a redelivery after a partial run
	}
	label := img.GetCaption()
	if label == "" {
		label = path.Base(strings.TrimPrefix(img.GetSrc(), uploadScheme))
	}
	src := img.GetSrc()
	if key, ok := strings.CutPrefix(src, uploadScheme); ok {
		data, err := s.cfg.Blobs.Get(ctx, key)
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return outcome{name: "unreachable", code: "image_unreachable", drop: true,
					warning: fmt.Sprintf("the uploaded image %q is missing from storage; it was left out", excerpt(label))}, nil
			}
			return outcome{}, err
		}
		return s.render(ctx, img, label, data)
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
	return s.render(ctx, img, label, data)
}

// render gives img the renditions of data.
func (s *Service) render(ctx context.Context, img *pb.Image, label string, data []byte) (outcome, error) {
	media, reused, err := s.media(ctx, data)
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
// first time it is seen. media.json is written last, so its presence
// means every rendition is stored.
func (s *Service) media(ctx context.Context, data []byte) (*pb.Media, bool, error) {
	sum := imaging.SHA256(data)
	metaKey := MediaPrefix + sum + "/media.json"
	if raw, err := s.cfg.Blobs.Get(ctx, metaKey); err == nil {
		var m pb.Media
		if err := protojson.Unmarshal(raw, &m); err == nil {
			return &m, true, nil
		}
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, false, err
	}
	res, err := s.cfg.Processor.Process(data)
	if err != nil {
		return nil, false, err
	}
	m := &pb.Media{Sha256: res.SHA256, Width: int32(res.Width), Height: int32(res.Height), Blurhash: res.BlurHash, Color: res.Color,
		EmbeddedCaption: res.Metadata.Caption, Creator: firstOf(res.Metadata.Credit, res.Metadata.Creator), Copyright: res.Metadata.Copyright,
		FocalX: float32(res.FocalX), FocalY: float32(res.FocalY)}
	for _, r := range res.Renditions {
		key := MediaPrefix + res.SHA256 + "/" + r.Name()
		if err := s.cfg.Blobs.Put(ctx, key, r.Data, "image/"+string(r.Format)); err != nil {
			return nil, false, err
		}
		m.Renditions = append(m.Renditions, &pb.Rendition{Key: key, Width: int32(r.Width), Height: int32(r.Height),
			Format: string(r.Format), Bytes: int64(r.Bytes), Animated: r.Animated})
	}
	raw, err := mediaJSON.Marshal(m)
	if err != nil {
		return nil, false, err
	}
	if err := s.cfg.Blobs.Put(ctx, metaKey, raw, "application/json"); err != nil {
		return nil, false, err
	}
	return m, false, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func excerpt(s string) string {
	r := []rune(s)
	if len(r) <= 60 {
		return s
	}
	return string(r[:60]) + "…"
}
