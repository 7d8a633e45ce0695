package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/mediarefs"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/services/notify"
	"github.com/pressline/pressline/internal/services/publish"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/events"
)

// NATSPermissions are the subjects a NATS user may publish and subscribe
// to.
type NATSPermissions struct {
	Publish, Subscribe []string
}

// InboxPrefix is the reply inbox of a NATS user (events owns it: a
// downstream site needs it too).
func InboxPrefix(user string) string { return events.InboxPrefix(user) }

// ServicePermissions are the least a service needs on NATS: to declare
// the streams and buckets every process declares, to publish its own
// output and dead letters, to write the buckets it owns, and to consume
// as its own durable consumers. Nothing else: clean cannot publish a
// withdrawal, notify cannot forge a site event for partners, no service
// can delete or purge a stream.
func ServicePermissions(service string) (NATSPermissions, error) {
	var p NATSPermissions
	pub := func(s ...string) { p.Publish = append(p.Publish, s...) }
	pub("$JS.API.INFO")
	// Every process declares the streams and the shared buckets.
	for _, st := range []string{layout.StreamArticles, layout.StreamSites, layout.StreamDeadLetter, layout.StreamReady} {
		pub(streamDeclare(st)...)
	}
	// Readiness stores a message to show JetStream can write.
	pub(layout.ReadyAll)
	readBucket := func(b string) { pub(bucketRead(b)...) }
	writeBucket := func(b string) { pub(bucketRead(b)...); pub("$KV." + b + ".>") }
	consume := func(stream, durable string) {
		for _, verb := range []string{"CREATE", "INFO", "MSG.NEXT"} {
			pub("$JS.API.CONSUMER." + verb + "." + stream + "." + durable)
		}
		pub("$JS.API.CONSUMER.CREATE."+stream+"."+durable+".>", "$JS.ACK."+stream+"."+durable+".>")
	}
	// A stage that gives up records it in the status.
	writeBucket(status.Bucket)
	switch service {
	case "ingest":
		pub(layout.SubjectReceived, layout.WithdrawAll)
		writeBucket(refs.Bucket)
		writeBucket(webhooks.Bucket)
		// The webhooks API reads the delivery log, one message at a time,
		// and redelivers an event to one subscriber's own subject.
		pub(streamDeclare(layout.StreamWebhookLog)...)
		pub("$JS.API.STREAM.MSG.GET."+layout.StreamWebhookLog, layout.WebhookSubject("*"))
		// Operators read the dead letters through the API, and replay
		// those ingest may send itself (received, withdrawals, webhook
		// deliveries: published above); the rest stay with the operator's
		// own user.
		pub("$JS.API.STREAM.MSG.GET."+layout.StreamDeadLetter, "$JS.API.STREAM.MSG.DELETE."+layout.StreamDeadLetter)
		// The content API reads the sites' events, one message at a time,
		// and follows them all for its index through an ordered consumer
		// (ephemeral, named by the client; no acknowledgements).
		pub("$JS.API.STREAM.MSG.GET."+layout.StreamSites,
			"$JS.API.CONSUMER.CREATE."+layout.StreamSites+".*."+events.AllSites, "$JS.API.CONSUMER.INFO."+layout.StreamSites+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+layout.StreamSites+".*")
	case "clean":
		readBucket(refs.Bucket)
		pub(layout.SubjectCleaned, layout.DeadLetterSubject(service))
		consume(layout.StreamArticles, service)
	case "imageproc":
		readBucket(refs.Bucket)
		pub(layout.MediaReadyAll, layout.DeadLetterSubject(service))
		writeBucket(mediarefs.Bucket)
		writeBucket(mediarefs.RemovalBucket)
		consume(layout.StreamArticles, service)
	case "publish":
		readBucket(refs.Bucket)
		pub(events.AllSites, layout.DeadLetterSubject(service))
		for _, b := range []string{publish.FeedBucket, publish.LeaseBucket, publish.HeldBucket, mediarefs.Bucket, mediarefs.RemovalBucket} {
			writeBucket(b)
		}
		for part := range layout.PublishPartitions {
			consume(layout.StreamArticles, bus.PartitionConsumer(publish.Stage, part))
		}
	case "notify":
		readBucket(refs.Bucket)
		writeBucket(webhooks.Bucket) // seeded from --webhooks-file, then watched
		pub(streamDeclare(layout.StreamWebhookLog)...)
		pub(layout.WebhookLogFilter(""))
		// One durable per subscriber, named from the webhooks file.
		pub(layout.DeadLetterSubject(notify.StagePrefix+"*"),
			"$JS.API.CONSUMER.CREATE."+layout.StreamSites+".>", "$JS.API.CONSUMER.INFO."+layout.StreamSites+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+layout.StreamSites+".*", "$JS.ACK."+layout.StreamSites+".>",
			// A deleted subscriber's durable goes with it.
			"$JS.API.CONSUMER.DELETE."+layout.StreamSites+"."+notify.StagePrefix+"*")
	default:
		return p, fmt.Errorf("no service %q", service)
	}
	p.Subscribe = []string{InboxPrefix(service) + ".>"}
	return p, nil
}

// Downstream is a downstream site's NATS user: the site it reads and the
// name of its durable consumer.
type Downstream struct {
	User, Site, Durable string
}

// DownstreamPermissions are a downstream site's: to read its own site's
// events through its own durable consumer, and nothing else.
func DownstreamPermissions(user, site, durable string) NATSPermissions {
	s := layout.StreamSites
	return NATSPermissions{
		Publish: []string{"$JS.API.INFO", "$JS.API.STREAM.INFO." + s,
			"$JS.API.CONSUMER.CREATE." + s + "." + durable + "." + events.SiteFilter(site),
			"$JS.API.CONSUMER.INFO." + s + "." + durable, "$JS.API.CONSUMER.MSG.NEXT." + s + "." + durable,
			"$JS.ACK." + s + "." + durable + ".>"},
		Subscribe: []string{InboxPrefix(user) + ".>"},
	}
}

// streamDeclare is what CreateOrUpdate of a stream asks of the server.
func streamDeclare(stream string) []string {
	return []string{"$JS.API.STREAM.CREATE." + stream, "$JS.API.STREAM.UPDATE." + stream, "$JS.API.STREAM.INFO." + stream}
}

// bucketRead is what opening a bucket and reading it (gets from the
// leader, key listings through ordered consumers) asks of the server.
func bucketRead(bucket string) []string {
	s := "KV_" + bucket
	return append(streamDeclare(s), "$JS.API.STREAM.MSG.GET."+s, "$JS.API.CONSUMER.CREATE."+s+".>",
		"$JS.API.CONSUMER.DELETE."+s+".>", "$JS.API.CONSUMER.INFO."+s+".>", "$JS.API.CONSUMER.MSG.NEXT."+s+".>", "$JS.ACK."+s+".>")
}

// NATSAuthConfig is the authorization block of a NATS server for every
// service, each with its own user, its password from the server's
// environment (PRESSLINE_NATS_<SERVICE>_PASSWORD), and an operator user
// with no limits for `pressline dlq` and administration; then a user for
// each downstream site given.
func NATSAuthConfig(downstream ...Downstream) (string, error) {
	var b strings.Builder
	b.WriteString("# Generated by `pressline nats-auth` from internal/app/natsperm.go; do not edit.\n")
	b.WriteString("# Each service connects as its own user (PRESSLINE_NATS_USER, PRESSLINE_NATS_PASSWORD)\n")
	b.WriteString("# and may do only what it needs; passwords come from the server's environment.\n")
	b.WriteString("authorization {\n  users: [\n")
	for _, svc := range Services {
		p, err := ServicePermissions(svc)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "    {\n      user: %s\n      password: $%s\n      permissions: {\n", svc, PasswordEnv(svc))
		fmt.Fprintf(&b, "        publish: {allow: %s}\n        subscribe: {allow: %s}\n      }\n    }\n", list(p.Publish), list(p.Subscribe))
	}
	for _, d := range downstream {
		p := DownstreamPermissions(d.User, d.Site, d.Durable)
		fmt.Fprintf(&b, "    {\n      user: %s\n      password: $%s\n      permissions: {\n", d.User, PasswordEnv(d.User))
		fmt.Fprintf(&b, "        publish: {allow: %s}\n        subscribe: {allow: %s}\n      }\n    }\n", list(p.Publish), list(p.Subscribe))
	}
	fmt.Fprintf(&b, "    {user: operator, password: $%s}\n  ]\n}\n", PasswordEnv("operator"))
	return b.String(), nil
}

// PasswordEnv is the variable that holds a NATS user's password, on the
// server and in the user's own process.
func PasswordEnv(user string) string {
	return "PRESSLINE_NATS_" + strings.ToUpper(user) + "_PASSWORD"
}

func list(subjects []string) string {
	subjects = slices.Compact(slices.Clone(subjects))
	q := make([]string, len(subjects))
	for i, s := range subjects {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[\n          " + strings.Join(q, ",\n          ") + "\n        ]"
}
