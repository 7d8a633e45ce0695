package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pressline/pressline/pkg/client"
)

// A newsroom's CMS sends an article and reads why one is refused. The
// server here answers as ingest does, so the example runs on its own;
// point Server at a running Pressline (pressline dev) to send for real.
func ExampleClient_Submit() {
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") == "application/pdf" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnsupportedMediaType)
			_ = json.NewEncoder(w).Encode(client.Problem{Type: client.ProblemTypePrefix + "unsupported-media-type", Status: 415,
				Field: "Content-Type", Detail: "send text/plain, text/html or application/json (ninjs)"})
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(client.Accepted{ID: "01KB0000000000000000000001", Version: 1, StatusURL: client.ArticlePath("01KB0000000000000000000001")})
	}))
	defer ingest.Close()

	c := &client.Client{Server: ingest.URL, Token: "the newsroom's token"}
	acc, err := c.Submit(context.Background(), client.Submission{
		Body:        []byte("Tiêu đề\n\nĐoạn mở đầu.\n"),
		ContentType: "text/plain; charset=utf-8",
		ExternalID:  "cms-4711", // the same id with new content is a correction
	})
	fmt.Println(acc.ID, acc.Version, acc.StatusURL, err)

	_, err = c.Submit(context.Background(), client.Submission{Body: []byte("%PDF-1.7"), ContentType: "application/pdf"})
	var p *client.Problem
	if errors.As(err, &p) {
		fmt.Println(p.Status, p.Code(), p.Field)
	}
	// Output:
	// 01KB0000000000000000000001 1 /v1/articles/01KB0000000000000000000001 <nil>
	// 415 unsupported-media-type Content-Type
}
