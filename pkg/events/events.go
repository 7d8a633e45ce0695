// Package events is Pressline's contract with downstream sites: what can
// happen to an article on a site (a Kind), and where Pressline announces
// it (the JetStream stream and the subjects of each site). The event
// bodies are the generated types in proto/pressline/v1
// (ArticlePublished); pkg/subscriber follows a site with them and
// pkg/webhook verifies the same events delivered as signed webhooks.
//
// Everything here is the one spelling of these names: Pressline's own
// services publish with it, and a downstream site that subscribes with it
// cannot drift from them.
package events

import (
	"fmt"
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Kind is what happened to an article on a site.
type Kind string

// The kinds, in the order an article can go through them.
const (
	// Published: the article's first version went live.
	Published Kind = "published"
	// Updated: a later version (a correction) replaced the live one.
	Updated Kind = "updated"
	// Withdrawn: the article was taken down.
	Withdrawn Kind = "withdrawn"
)

// Kinds lists every kind.
func Kinds() []Kind { return []Kind{Published, Updated, Withdrawn} }

// ParseKind reads a kind's name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("%q is not an event kind (published, updated or withdrawn)", s)
}

// KindOf is the kind an event's enum names; "" for none.
func KindOf(k pb.PublicationKind) Kind {
	switch k {
	case pb.PublicationKind_PUBLICATION_KIND_PUBLISHED:
		return Published
	case pb.PublicationKind_PUBLICATION_KIND_UPDATED:
		return Updated
	case pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN:
		return Withdrawn
	}
	return ""
}

// Proto is the kind as the event body's enum.
func (k Kind) Proto() pb.PublicationKind {
	switch k {
	case Published:
		return pb.PublicationKind_PUBLICATION_KIND_PUBLISHED
	case Updated:
		return pb.PublicationKind_PUBLICATION_KIND_UPDATED
	case Withdrawn:
		return pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN
	}
	return pb.PublicationKind_PUBLICATION_KIND_UNSPECIFIED
}

// WebhookType is the kind as a webhook body's type: "article.published".
func (k Kind) WebhookType() string { return webhookTypePrefix + string(k) }

const webhookTypePrefix = "article."

// KindOfWebhookType reads a webhook body's type; "" when it is not one of
// Pressline's.
func KindOfWebhookType(t string) Kind {
	k, err := ParseKind(strings.TrimPrefix(t, webhookTypePrefix))
	if err != nil || !strings.HasPrefix(t, webhookTypePrefix) {
		return ""
	}
	return k
}

// Stream is the JetStream stream that keeps every site's events, for as
// long as an operator keeps them, so a site can replay its history.
const Stream = "PRESSLINE_SITES"

const sitePrefix = "pressline.site."

// AllSites is the subject filter of every site's events.
const AllSites = sitePrefix + ">"

// SiteSubject is the subject of events of one kind on one site:
// pressline.site.<site>.<kind>. A site of "*" or a kind of "*" makes a
// filter of all of them.
func SiteSubject(site string, k Kind) string { return sitePrefix + site + "." + string(k) }

// InboxPrefix is where a NATS user's replies must go: Pressline's
// servers let each user subscribe to its own inboxes only, so that no
// one reads the answers another asked for. Connect with
// nats.CustomInboxPrefix(events.InboxPrefix(user)).
func InboxPrefix(user string) string { return "_INBOX_" + user }

// SiteFilter is the subject filter of every event of one site.
func SiteFilter(site string) string { return SiteSubject(site, "*") }

// ParseSiteSubject reads a site subject's site and kind; ok is false for
// any other subject.
func ParseSiteSubject(subject string) (site string, k Kind, ok bool) {
	rest, found := strings.CutPrefix(subject, sitePrefix)
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", "", false
	}
	k, err := ParseKind(rest[i+1:])
	if err != nil {
		return "", "", false
	}
	return rest[:i], k, true
}
