package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/tracing"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// maxDrain is how much of a refused body is read after the answer, so
// that the sender is done sending when the connection closes: closing
// on unread bytes resets it, and a client still sending never reads
// the 413.
const maxDrain = 64 << 20

// refuseBody answers p (a body too large) and closes the connection
// once the body is in, or maxDrain of it. A client that asked to be told
// before sending (Expect: 100-continue) sent nothing yet, and is not
// asked for it now.
func refuseBody(w http.ResponseWriter, r *http.Request, p *problem) {
	w.Header().Set("Connection", "close")
	writeProblem(w, *p)
	_ = http.NewResponseController(w).Flush()
	if !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
	}
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	nr, ok := s.authenticate(w, r)
	if !ok || !s.allow(w, nr.Name) {
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// The bytes would be stored as if they were the article.
		w.Header().Set("Accept-Encoding", "identity")
		writeProblem(w, problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-content-encoding", Field: "Content-Encoding",
			Detail: fmt.Sprintf("Content-Encoding %q is not accepted; send the article uncompressed", clip(ce, 64))})
		return
	}
	ct := r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	multipart := err == nil && mediaType == "multipart/form-data"
	limit := s.cfg.MaxBodyBytes
	if multipart {
		limit = s.cfg.MaxRequestBytes
	}
	if r.ContentLength > limit {
		refuseBody(w, r, readProblem(&http.MaxBytesError{Limit: limit}, limit, ""))
		return
	}
	var a *submission
	var p *problem
	if multipart {
		a, p = s.readMultipart(w, r, params["boundary"])
	} else {
		a, p = s.readSingle(w, r, ct)
	}
	if p != nil && p.Status == http.StatusRequestEntityTooLarge {
		refuseBody(w, r, p)
		return
	}
	if p != nil {
		writeProblem(w, *p)
		return
	}
	defer a.close()

	// Every check comes before resolve, which may record the request's
	// key: a refused request leaves nothing behind.
	sites, p := sitesFor(r, nr)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	embargo, p := embargoOf(r, a)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if a.location, p = contentLocation(r); p != nil {
		writeProblem(w, *p)
		return
	}
	kind, key := keyOf(r)
	if kind == refs.External {
		a.externalID = key
	}
	tgt, err := s.resolve(r.Context(), kind, key, nr.Name, a)
	var no *refusal
	if errors.As(err, &no) {
		writeProblem(w, no.problem())
		return
	}
	if err != nil {
		s.log.Error("key lookup", "newsroom", nr.Name, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "the article could not be checked against earlier submissions and was not accepted; send it again in a few seconds with the same Idempotency-Key (add one if you sent none), so that it cannot be accepted twice"})
		return
	}
	if tgt.repeat {
		// The same content was accepted before: the same answer, and
		// nothing sent again.
		writeAccepted(w, http.StatusOK, tgt.id, tgt.version)
		return
	}
	ref := &pb.ArticleRef{
		Id:         tgt.id,
		Version:    tgt.version,
		Newsroom:   nr.Name,
		Sites:      sites,
		ReceivedAt: timestamppb.New(s.now()),
	}
	if !embargo.IsZero() {
		ref.EmbargoUntil = timestamppb.New(embargo)
	}
	log := s.log.With("article_id", ref.Id, "version", ref.Version, "newsroom", nr.Name, "trace_id", tracing.TraceID(r.Context()))
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("pressline.article.id", ref.Id), attribute.Int("pressline.article.version", int(ref.Version)))
	stored, err := s.accept(r.Context(), ref, a)
	switch {
	case err == nil:
		log.Info("accepted", "bytes", len(a.body), "files", len(a.files))
	case stored:
		// The original is durable, so the article will go through: the
		// reconciler sends the event that failed here. Refusing it now
		// would tell the sender "not accepted" about an article that is
		// then published.
		log.Warn("accepted; its event will be sent by the reconciler", "err", err)
	default:
		log.Error("not accepted", "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "the article could not be stored durably and was not accepted; send it again in a few seconds with the same Idempotency-Key (add one if you sent none), so that it cannot be accepted twice"})
		return
	}
	writeAccepted(w, http.StatusAccepted, ref.Id, ref.Version)
}

// writeAccepted answers with an article's id, version and status URL.
func writeAccepted(w http.ResponseWriter, code int, id string, version uint32) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", client.ArticlePath(id))
	w.WriteHeader(code)
	writeJSON(w, client.Accepted{ID: id, Version: version, StatusURL: client.ArticlePath(id)})
}

// accept makes the article durable: the files and the original in S3
// first, then the event. An original without its event is invisible to
// the pipeline until the reconciler finds it (see reconcile.go); the
// original carries its ArticleRef in its metadata for that.
// accept stores the article's files and original and sends its event.
// stored says whether the original is durable: from then on the article
// goes through whatever fails after, as the reconciler sends an event
// that was not sent.
func (s *Service) accept(ctx context.Context, ref *pb.ArticleRef, a *submission) (stored bool, err error) {
	key := layout.Original(ref.Id, ref.Version)
	for _, f := range a.files {
		fkey := layout.Upload(ref.Id, ref.Version, f.name)
		if err := s.cfg.Blobs.PutReader(ctx, fkey, f.content(), f.size, f.contentType); err != nil {
			return false, err
		}
		ref.Uploads = append(ref.Uploads, &pb.Upload{Name: f.name, Key: fkey, ContentType: f.contentType, Size: f.size})
	}
	meta, err := refMetadata(ref, a.location)
	if err != nil {
		return false, err
	}
	if err := s.cfg.Blobs.PutWithMetadata(ctx, key, a.body, a.contentType, meta); err != nil {
		// A write reported failed may still have landed (the answer was
		// lost): take it back, or the reconciler would publish an
		// article its sender was told was refused.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if derr := s.cfg.Blobs.Delete(dctx, key); derr != nil {
			// It may be there for good: this version's failed status
			// tells the reconciler it is not to be sent on.
			s.log.Warn("a refused original could not be removed; its version is marked failed", "article_id", ref.Id, "key", key, "err", derr)
			step := status.Step{Stage: "ingest", State: status.Failed,
				Detail: "refused: the original could not be stored (" + err.Error() + "); the sender was answered 503"}
			if serr := s.cfg.Status.Record(dctx, ref, step); serr != nil {
				s.log.Error("a refused original is left behind and its version could not be marked failed; the reconciler may send it on", "article_id", ref.Id, "key", key, "err", serr)
			}
		}
		return false, err
	}
	detail := fmt.Sprintf("%d bytes, %s", len(a.body), a.contentType)
	if len(a.files) > 0 {
		detail += fmt.Sprintf(", %d files", len(a.files))
	}
	return true, s.emit(ctx, ref, key, a.body, a.contentType, a.location, a.externalID, detail)
}

// emit sends the received event for a stored original and records it.
func (s *Service) emit(ctx context.Context, ref *pb.ArticleRef, key string, body []byte, contentType, location, externalID, detail string) error {
	// The original is in S3 already: its key is the claim check.
	payload := claimcheck.Stored(key, body, contentType, s.cfg.InlineLimit)
	ev := &pb.ArticleReceived{Article: ref, OriginalKey: key, Original: payload, ContentLocation: location}
	if err := s.cfg.Bus.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		return err
	}
	// The article is accepted now; a status write that fails only delays
	// what GET shows until the next stage writes.
	record := s.cfg.Status.Record
	if ref.GetVersion() == 1 {
		record = s.cfg.Status.RecordNew // no record yet, most likely: no read
	}
	if err := record(ctx, ref, status.Step{Stage: "ingest", State: status.Received, Detail: detail, ExternalID: externalID}); err != nil {
		s.log.Warn("status not recorded", "article_id", ref.Id, "err", err)
	}
	return nil
}
