package events_test

import (
	"fmt"

	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// A downstream site subscribes to its own events with SiteFilter, or to
// one kind with SiteSubject.
func ExampleSiteSubject() {
	fmt.Println(events.SiteFilter("front"))
	fmt.Println(events.SiteSubject("front", events.Withdrawn))
	// Output:
	// pressline.site.front.*
	// pressline.site.front.withdrawn
}

// An event's kind is in its body; the subject says the same.
func ExampleKindOf() {
	ev := &pb.ArticlePublished{Kind: pb.PublicationKind_PUBLICATION_KIND_UPDATED, Site: "front"}
	k := events.KindOf(ev.GetKind())
	site, fromSubject, _ := events.ParseSiteSubject(events.SiteSubject(ev.GetSite(), k))
	fmt.Println(k, site, fromSubject, k.WebhookType())
	// Output: updated front updated article.updated
}

// A downstream site's NATS user reads replies at its own inbox only.
func ExampleInboxPrefix() {
	fmt.Println(events.InboxPrefix("site-front"))
	// Output: _INBOX_site-front
}
