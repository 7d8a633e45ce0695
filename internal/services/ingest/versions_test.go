package ingest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestVersions: a newsroom reads each cleaned version of its article,
// its ninjs and a preview of its page; another newsroom, a version that
// does not exist and one not cleaned yet are refused, each naming why.
func TestVersions(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ref := &pb.ArticleRef{Id: ulid.Make().String(), Version: 1, Newsroom: "quocoai", Sites: []string{"front"}, ReceivedAt: timestamppb.Now()}
	if err := f.status.RecordNew(ctx, ref, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	article := &pb.Article{Title: "Bão số 3 <đổ bộ>", Language: "vi", Blocks: []*pb.Block{
		{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: "Chiều 4/12, bão số 3 đổ bộ vào Quảng Ngãi."}}}}}
	doc, err := cleaner.JSON(article)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.blobs.Put(ctx, layout.CleanedJSON(ref.Id, 1), doc, "application/json"); err != nil {
		t.Fatal(err)
	}
	ref2 := &pb.ArticleRef{Id: ref.Id, Version: 2, Newsroom: "quocoai", Sites: []string{"front"}, ReceivedAt: timestamppb.Now()}
	if err := f.status.Record(ctx, ref2, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	base := "/v1/articles/" + ref.Id + "/versions/"
	for _, tc := range []struct {
		name, path, auth string
		status           int
		contentType      string
		holds            string
		problem, field   string
	}{
		{"the cleaned article", base + "1", token, 200, "application/json", `"title": "Bão số 3 <đổ bộ>"`, "", ""},
		{"its ninjs", base + "1/ninjs", token, 200, "application/json", `"value": "Bão số 3 <đổ bộ>"`, "", ""},
		{"its page", base + "1/preview", token, 200, "text/html; charset=utf-8", "Bão số 3 &lt;đổ bộ&gt;", "", ""},
		{"not cleaned yet", base + "2", token, 404, "", "", "not-yet-cleaned", "version"},
		{"no such version", base + "3/preview", token, 404, "", "", "no-such-version", "version"},
		{"not a version", base + "one", token, 404, "", "", "no-such-version", "version"},
		{"no token", base + "1", "", 401, "", "", "unauthenticated", "Authorization"},
		{"no such article", "/v1/articles/" + ulid.Make().String() + "/versions/1", token, 404, "", "", "article-not-found", "id"},
	} {
		resp, body := f.call(t, "GET", tc.path, tc.auth, "")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s", tc.name, resp.Status, body)
			continue
		}
		if tc.problem != "" {
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field {
				t.Errorf("%s: %s, want problem %s on %s", tc.name, body, tc.problem, tc.field)
			}
			continue
		}
		if resp.Header.Get("Content-Type") != tc.contentType || !strings.Contains(string(body), tc.holds) {
			t.Errorf("%s: %s, %.300s; want %s holding %s", tc.name, resp.Header.Get("Content-Type"), body, tc.contentType, tc.holds)
		}
		if strings.HasPrefix(tc.contentType, "text/html") && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: CSP %q", tc.name, resp.Header.Get("Content-Security-Policy"))
		}
	}
}
