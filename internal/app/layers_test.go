package app_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds the code to the layout docs/architecture.md
// draws: what each folder may import. A change that breaks a rule fails
// here, with the import that broke it.
func TestImportRules(t *testing.T) {
	const mod = "github.com/pressline/pressline/"
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 30 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	// rules: a package under the first prefix must not import one under
	// any of the others (test files aside: go list's Imports are the
	// package's own).
	rules := []struct {
		from   string
		banned []string
		why    string
	}{
		{"pkg/", []string{"internal/services/", "internal/app", "internal/cli"}, "what downstream developers import carries no service"},
		{"pkg/subscriber", []string{"internal/"}, "a downstream site's dependency stays small"},
		{"pkg/events", []string{"internal/"}, "the public contract depends on nothing internal"},
		{"pkg/webhook", []string{"internal/"}, "a webhook receiver's dependency stays small"},
		{"pkg/client", []string{"internal/"}, "a newsroom's client depends on nothing internal"},
		{"internal/services/ingest", []string{"internal/services/clean", "internal/services/imageproc", "internal/services/publish", "internal/services/notify"}, "services talk over NATS only"},
		{"internal/services/clean", []string{"internal/services/ingest", "internal/services/imageproc", "internal/services/publish", "internal/services/notify"}, "services talk over NATS only"},
		{"internal/services/imageproc", []string{"internal/services/ingest", "internal/services/clean", "internal/services/publish", "internal/services/notify"}, "services talk over NATS only"},
		{"internal/services/publish", []string{"internal/services/ingest", "internal/services/clean", "internal/services/imageproc", "internal/services/notify"}, "services talk over NATS only"},
		{"internal/services/notify", []string{"internal/services/ingest", "internal/services/clean", "internal/services/imageproc", "internal/services/publish"}, "services talk over NATS only"},
		{"internal/services/", []string{"internal/app", "internal/cli", "internal/testenv", "internal/natsembed", "internal/s3embed"}, "a service is given its connections"},
		{"internal/app", []string{"internal/cli"}, "the wiring does not know the command line"},
		{"cmd/", []string{"internal/app", "internal/services/", "internal/config"}, "main only calls internal/cli"},
	}
	libraries := []string{"internal/bus", "internal/blob", "internal/status", "internal/refs", "internal/kvstore", "internal/claimcheck", "internal/fault",
		"internal/layout", "internal/config", "internal/cleaner", "internal/imaging", "internal/render", "internal/feeds", "internal/slug",
		"internal/safefetch", "internal/tracing", "internal/ops", "internal/floor", "internal/siteindex", "internal/mediarefs", "internal/webhooks"}
	for _, lib := range libraries {
		rules = append(rules, struct {
			from   string
			banned []string
			why    string
		}{lib, []string{"internal/services/", "internal/app", "internal/cli", "internal/testenv"}, "a library knows no service"})
	}
	for _, p := range pkgs {
		path := strings.TrimPrefix(p.ImportPath, mod)
		for _, r := range rules {
			if !under(path, r.from) {
				continue
			}
			for _, imp := range p.Imports {
				ip, ok := strings.CutPrefix(imp, mod)
				if !ok {
					continue
				}
				for _, b := range r.banned {
					if under(ip, b) {
						t.Errorf("%s imports %s: %s", path, ip, r.why)
					}
				}
			}
		}
	}
}

// under: path is prefix itself, or inside it (a prefix ending in / is a
// folder whose children are meant).
func under(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
