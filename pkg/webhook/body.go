package webhook

import (
	"bytes"
	"encoding/json"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Body is a Pressline webhook's JSON body, in the Standard Webhooks shape.
type Body struct {
	// Type is the event's kind as "article.published", "article.updated"
	// or "article.withdrawn" (events.Kind.WebhookType).
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	// Data is the ArticlePublished event in protobuf's JSON form with
	// the proto field names, as in docs/events.md.
	Data json.RawMessage `json:"data"`
}

// NewBody is the body of ev's webhook: its kind, its publication time,
// and the event in protobuf's JSON form, compacted, so that every
// attempt, and every other place that shows the event (the content
// API's changes), carries the same bytes.
func NewBody(ev *pb.ArticlePublished) (Body, error) {
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
	if err != nil {
		return Body{}, err
	}
	// protojson varies its whitespace on purpose.
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return Body{}, err
	}
	return Body{Type: events.KindOf(ev.GetKind()).WebhookType(), Timestamp: ev.GetPublishedAt().AsTime().UTC(), Data: compact.Bytes()}, nil
}

// TestType is the type of a test event, which an operator sends to check
// that a receiver takes Pressline's webhooks (POST
// /v1/webhooks/{name}/test). It concerns no article: a receiver answers
// 2xx, as it should to any type it does not know, and does nothing.
const TestType = "webhook.test"

// testData is a test event's data.
type testData struct {
	Subscriber string `json:"subscriber"`
	Message    string `json:"message"`
}

// NewTestBody is the body of a test event sent to subscriber at t.
func NewTestBody(subscriber string, t time.Time) Body {
	data, _ := json.Marshal(testData{Subscriber: subscriber,
		Message: "A test from Pressline: this concerns no article. Answer 2xx to show that webhooks reach you."})
	return Body{Type: TestType, Timestamp: t.UTC(), Data: data}
}

// Kind is the body's event kind; "" when Type is not one of Pressline's
// article events (a test, say).
func (b Body) Kind() events.Kind { return events.KindOfWebhookType(b.Type) }

// Event decodes the body's data. Fields this version does not know are
// skipped, so a receiver keeps working when Pressline adds some.
func (b Body) Event() (*pb.ArticlePublished, error) {
	ev := &pb.ArticlePublished{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b.Data, ev); err != nil {
		return nil, err
	}
	return ev, nil
}
