package presslinev1

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestEventDocs parses every JSON example in docs/events.md into the
// message type its marker names, refusing unknown fields, so the docs
// cannot drift from the schemas.
func TestEventDocs(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- schema: (\\w+) -->\n```json\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) < 5 {
		t.Fatalf("%d examples found, want at least 5", len(blocks))
	}
	for _, b := range blocks {
		name, body := string(b[1]), b[2]
		var msg proto.Message
		switch name {
		case "ArticlePublished":
			msg = &ArticlePublished{}
		case "Withdraw":
			msg = &Withdraw{}
		case "ArticleRef":
			msg = &ArticleRef{}
		case "DeadLetter":
			msg = &DeadLetter{}
		case "webhook":
			var w struct {
				Type, Timestamp string
				Data            json.RawMessage
			}
			if err := json.Unmarshal(body, &w); err != nil || w.Type == "" || w.Timestamp == "" {
				t.Errorf("webhook example: %v", err)
				continue
			}
			name, body, msg = "webhook data", w.Data, &ArticlePublished{}
		default:
			t.Errorf("unknown schema %q in docs/events.md", name)
			continue
		}
		if err := protojson.Unmarshal(body, msg); err != nil {
			t.Errorf("%s example: %v", name, err)
		}
	}
}
