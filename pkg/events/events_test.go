package events

import (
	"testing"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Every kind survives each of its spellings: the enum, the name, the
// subject and the webhook type.
func TestKindRoundTrips(t *testing.T) {
	if len(Kinds()) != len(pb.PublicationKind_name)-1 {
		t.Fatalf("%d kinds for %d enum values (UNSPECIFIED aside)", len(Kinds()), len(pb.PublicationKind_name)-1)
	}
	for _, k := range Kinds() {
		if got := KindOf(k.Proto()); got != k {
			t.Errorf("%s: KindOf(Proto()) = %q", k, got)
		}
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("%s: ParseKind = %q, %v", k, got, err)
		}
		if got := KindOfWebhookType(k.WebhookType()); got != k {
			t.Errorf("%s: KindOfWebhookType = %q", k, got)
		}
		site, got, ok := ParseSiteSubject(SiteSubject("city-news", k))
		if !ok || site != "city-news" || got != k {
			t.Errorf("%s: ParseSiteSubject = %q %q %v", k, site, got, ok)
		}
	}
}

func TestRefusals(t *testing.T) {
	if _, err := ParseKind("deleted"); err == nil {
		t.Error("ParseKind(deleted) succeeded")
	}
	for _, s := range []string{"pressline.article.received", "pressline.site.front", "pressline.site.front.deleted", "pressline.site..published"} {
		if _, _, ok := ParseSiteSubject(s); ok {
			t.Errorf("ParseSiteSubject(%q) ok", s)
		}
	}
	for _, s := range []string{"published", "article.deleted", "x.published"} {
		if k := KindOfWebhookType(s); k != "" {
			t.Errorf("KindOfWebhookType(%q) = %q", s, k)
		}
	}
	if KindOf(pb.PublicationKind_PUBLICATION_KIND_UNSPECIFIED) != "" {
		t.Error("UNSPECIFIED has a kind")
	}
}
