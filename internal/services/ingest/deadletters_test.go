package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
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
		subject := layout.SubjectReceived
		if stage == "publish" {
			subject = layout.MediaReadySubject("01KB00000000000000000000DB")
		}
		dl := &pb.DeadLetter{Stage: stage, Subject: subject, Data: []byte(fmt.Sprintf("message %d", i+1)), Error: "cannot parse", Permanent: i == 0,
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
	if d.Stage != "clean" || !d.Permanent || d.Attempts != 3 || d.Error != "cannot parse" || d.AgeSeconds < 3500 || d.Replay != "pressline dlq replay 1" ||
		!d.Replayable || all.DeadLetters[1].Replayable {
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

// TestReplayDeadLettersAPI: the API replays a dead letter ingest could
// have sent itself, one or a stage's all, back to its subject; one of a
// stage's own output it leaves to the operator's CLI, saying so.
func TestReplayDeadLettersAPI(t *testing.T) {
	f := newFixture(t, nil)
	for i, stage := range []string{"clean", "publish", "clean"} {
		subject := layout.SubjectReceived
		if stage == "publish" {
			subject = layout.MediaReadySubject("01KB00000000000000000000DB")
		}
		data, _ := proto.Marshal(&pb.DeadLetter{Stage: stage, Subject: subject, Data: []byte(fmt.Sprintf("message %d", i+1)), FailedAt: timestamppb.Now()})
		if _, err := f.js.Publish(t.Context(), layout.DeadLetterSubject(stage), data); err != nil {
			t.Fatal(err)
		}
	}
	articles, err := f.js.Stream(t.Context(), layout.StreamArticles)
	if err != nil {
		t.Fatal(err)
	}
	lastReceived := func() string {
		m, err := articles.GetLastMsgForSubject(t.Context(), layout.SubjectReceived)
		if err != nil {
			return ""
		}
		return string(m.Data)
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
		replayed, left   []uint64
		sent             string
		problem, field   string
	}{
		{"a stage's own output", "/v1/deadletters/2/replay", "", 409, nil, nil, "", "replay-by-operator", "id"},
		{"one", "/v1/deadletters/1/replay", "", 202, []uint64{1}, nil, "message 1", "", ""},
		{"again", "/v1/deadletters/1/replay", "", 404, nil, nil, "", "no-such-dead-letter", "id"},
		{"not a number", "/v1/deadletters/x/replay", "", 404, nil, nil, "", "no-such-dead-letter", "id"},
		{"a stage's all", "/v1/deadletters/replay", `{"stage": "clean"}`, 202, []uint64{3}, nil, "message 3", "", ""},
		{"a stage's all, left to the operator", "/v1/deadletters/replay", `{"stage": "publish"}`, 202, []uint64{}, []uint64{2}, "", "", ""},
		{"no stage", "/v1/deadletters/replay", `{}`, 400, nil, nil, "", "invalid-parameter", "stage"},
	} {
		resp, body := f.call(t, "POST", tc.path, operatorToken, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s", tc.name, resp.Status, body)
			continue
		}
		if tc.problem != "" {
			var p client.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Type != client.ProblemTypePrefix+tc.problem || p.Field != tc.field {
				t.Errorf("%s: %s, want %s on %s", tc.name, body, tc.problem, tc.field)
			}
			continue
		}
		var out replayed
		if err := json.Unmarshal(body, &out); err != nil || !slices.Equal(out.Replayed, tc.replayed) || !slices.Equal(out.Left, tc.left) {
			t.Errorf("%s: %s, want replayed %v left %v", tc.name, body, tc.replayed, tc.left)
		}
		if tc.sent != "" && lastReceived() != tc.sent {
			t.Errorf("%s: the last received is %q, want %q sent again", tc.name, lastReceived(), tc.sent)
		}
	}
}
