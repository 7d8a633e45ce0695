package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestDeadLettersAPI: operators list the dead letters by stage, a page
// at a time, with what failed, why, how long ago, and the command that
// replays each; a newsroom may not.
func TestDeadLettersAPI(t *testing.T) {
	f := newFixture(t, nil)
	failed := time.Now().Add(-time.Hour)
	for i, stage := range []string{"clean", "publish", "clean"} {
		dl := &pb.DeadLetter{Stage: stage, Subject: layout.SubjectReceived, Data: []byte("the message"), Error: "cannot parse", Permanent: i == 0,
			Attempts: 3, FailedAt: timestamppb.New(failed), ArticleId: "01KB00000000000000000000D" + string(rune('A'+i)), ArticleVersion: 1}
		data, _ := proto.Marshal(dl)
		if _, err := f.js.Publish(t.Context(), layout.DeadLetterSubject(stage), data); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		DeadLetters []deadLetter `json:"dead_letters"`
		Next        string
	}
	read := func(path string) page {
		t.Helper()
		resp, body := f.call(t, "GET", path, operatorToken, "")
		var p page
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", path, resp.Status, body)
		}
		return p
	}
	all := read("/v1/deadletters")
	if len(all.DeadLetters) != 3 || all.Next != "" {
		t.Fatalf("all: %+v", all)
	}
	d := all.DeadLetters[0]
	if d.Stage != "clean" || !d.Permanent || d.Attempts != 3 || d.Error != "cannot parse" || d.AgeSeconds < 3500 || d.Replay != "pressline dlq replay 1" {
		t.Errorf("first: %+v", d)
	}
	if got := read("/v1/deadletters?stage=clean"); len(got.DeadLetters) != 2 || got.DeadLetters[1].ArticleID != "01KB00000000000000000000DC" {
		t.Errorf("clean's: %+v", got)
	}
	first := read("/v1/deadletters?limit=2")
	if rest := read("/v1/deadletters?limit=2&after=" + first.Next); len(first.DeadLetters) != 2 || first.Next != "2" || len(rest.DeadLetters) != 1 || rest.DeadLetters[0].ID != 3 {
		t.Errorf("pages: %+v then %+v", first, rest)
	}
	for _, tc := range []struct {
		path, auth, problem, field string
		status                     int
	}{
		{"/v1/deadletters", token, "operators-only", "Authorization", 403},
		{"/v1/deadletters?after=x", operatorToken, "invalid-parameter", "after", 400},
		{"/v1/deadletters?limit=0", operatorToken, "invalid-parameter", "limit", 400},
	} {
		resp, body := f.call(t, "GET", tc.path, tc.auth, "")
		var p client.Problem
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != tc.status || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field {
			t.Errorf("%s: %s %s", tc.path, resp.Status, body)
		}
	}
}
