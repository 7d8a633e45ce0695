package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// A downstream site's webhook endpoint: it checks the signature with the
// secret it was given, then reads the event.
func ExampleSecret_Verify() {
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := secret.Verify(r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev, err := b.Event()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// De-duplicate on webhook-id: a delivery may come twice.
		fmt.Println(r.Header.Get("webhook-id"), b.Kind(), ev.GetSite(), ev.GetUrl())
		w.WriteHeader(http.StatusNoContent)
	})

	// A request as Pressline's notify service sends one.
	body := []byte(`{"type":"article.published","timestamp":"2026-12-01T08:00:00Z","data":{"article":{"id":"01KB0000000000000000000001","version":1},` +
		`"kind":"PUBLICATION_KIND_PUBLISHED","site":"front","url":"https://news.example/front/articles/tin-01kb0000000000000000000001/"}}`)
	req := httptest.NewRequest(http.MethodPost, "/hooks/pressline", bytes.NewReader(body))
	secret.SetHeaders(req.Header, "msg_01KB0000000000000000000001_v1_front_published", time.Now(), body)
	rec := httptest.NewRecorder()
	endpoint.ServeHTTP(rec, req)

	// A forged one.
	req = httptest.NewRequest(http.MethodPost, "/hooks/pressline", bytes.NewReader(body))
	req.Header.Set("webhook-id", "msg_forged")
	req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
	req.Header.Set("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
	forged := httptest.NewRecorder()
	endpoint.ServeHTTP(forged, req)
	fmt.Println(rec.Code, forged.Code)
	// Output:
	// msg_01KB0000000000000000000001_v1_front_published published front https://news.example/front/articles/tin-01kb0000000000000000000001/
	// 204 401
}

// The body of an event's webhook, as notify sends it and as the content
// API's changes carry it.
func ExampleNewBody() {
	ev := &pb.ArticlePublished{
		Article: &pb.ArticleRef{Id: "01JDQ5Z7N3M0Y8F6W2K4T9R1AB", Version: 2}, Kind: pb.PublicationKind_PUBLICATION_KIND_UPDATED,
		Site: "front", Url: "https://news.example/front/articles/tin-moi-01jdq5z7n3m0y8f6w2k4t9r1ab/",
		PublishedAt: timestamppb.New(time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)),
	}
	b, err := webhook.NewBody(ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.Marshal(b)
	fmt.Println(string(out))
	// Output:
	// {"type":"article.updated","timestamp":"2026-12-04T01:00:00Z","data":{"article":{"id":"01JDQ5Z7N3M0Y8F6W2K4T9R1AB","version":2},"kind":"PUBLICATION_KIND_UPDATED","site":"front","url":"https://news.example/front/articles/tin-moi-01jdq5z7n3m0y8f6w2k4t9r1ab/","published_at":"2026-12-04T01:00:00Z"}}
}
