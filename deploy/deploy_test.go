// Package deploy holds no code: its tests check the deployment files
// beside them (Prometheus rules, Grafana dashboards) against each other
// and against the metrics the code defines, without running any server.
package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	promql "github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// promtool runs Prometheus's own checker in deploy/prometheus.
func promtool(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: make deps installs it (Debian package prometheus)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "prometheus"
	return cmd.CombinedOutput()
}

// TestRules runs promtool on the rules and their unit tests.
func TestRules(t *testing.T) {
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		if out, err := promtool(t, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// catalogue reads the metric names of docs/metrics.md: the first cell of
// every table row, in backticks.
func catalogue(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| ([^|]+) \\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		for _, n := range regexp.MustCompile("`([a-zA-Z_:][a-zA-Z0-9_:]*)`").FindAllStringSubmatch(m[1], -1) {
			names[n[1]] = true
		}
	}
	if len(names) < 15 {
		t.Fatalf("only %d metrics read from docs/metrics.md", len(names))
	}
	return names
}

// defined finds every metric the code defines: the Namespace, Subsystem
// and Name of prometheus.*Opts literals, and prometheus.NewDesc names
// (a literal or prometheus.BuildFQName of parts). The namespace is
// ops.Namespace, read from its declaration.
func defined(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ns := namespace(t)
	str := func(e ast.Expr) string {
		if sel, ok := e.(*ast.SelectorExpr); ok && ident(sel.X) == "ops" && sel.Sel.Name == "Namespace" {
			return ns
		}
		return str(e)
	}
	for _, dir := range []string{"../internal", "../pkg", "../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					sel, ok := n.Type.(*ast.SelectorExpr)
					if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") || ident(sel.X) != "prometheus" {
						return true
					}
					parts := map[string]string{}
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							parts[ident(kv.Key)] = str(kv.Value)
						}
					}
					if parts["Name"] != "" {
						name := strings.Join(nonEmpty(parts["Namespace"], parts["Subsystem"], parts["Name"]), "_")
						out[name] = path
					}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewDesc" && ident(sel.X) == "prometheus" && len(n.Args) > 0 {
						name := str(n.Args[0])
						if fq, ok := n.Args[0].(*ast.CallExpr); ok && len(fq.Args) == 3 {
							if fsel, ok := fq.Fun.(*ast.SelectorExpr); ok && fsel.Sel.Name == "BuildFQName" {
								name = strings.Join(nonEmpty(str(fq.Args[0]), str(fq.Args[1]), str(fq.Args[2])), "_")
							}
						}
						if name != "" {
							out[name] = path
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// namespace is the value of the ops.Namespace constant.
func namespace(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../internal/ops/ops.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if obj := f.Scope.Lookup("Namespace"); obj != nil {
		if vs, ok := obj.Decl.(*ast.ValueSpec); ok && len(vs.Values) == 1 {
			if ns := str(vs.Values[0]); ns != "" {
				return ns
			}
		}
	}
	t.Fatal("no Namespace constant in internal/ops")
	return ""
}

func ident(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func str(e ast.Expr) string {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		s, _ := strconv.Unquote(lit.Value)
		return s
	}
	return ""
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestMetricCatalogue: every metric the code defines is in the catalogue,
// and every Pressline metric in the catalogue is defined.
func TestMetricCatalogue(t *testing.T) {
	cat, code := catalogue(t), defined(t)
	if len(code) < 15 {
		t.Fatalf("only %d metrics found in the code", len(code))
	}
	for name, file := range code {
		if !cat[name] {
			t.Errorf("%s (defined in %s) is not in docs/metrics.md", name, file)
		}
	}
	for name := range cat {
		if strings.HasPrefix(name, "pressline_") && code[name] == "" {
			t.Errorf("docs/metrics.md lists %s, which the code does not define", name)
		}
	}
}

// rule is one entry of rules.yml.
type rule struct {
	Record, Alert, Expr string
	Annotations         map[string]string
}

// rules reads every rule of rules.yml.
func rules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct{ Rules []rule }
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// recordingRules are the series rules.yml records, and every expression.
func recordingRules(t *testing.T) (records map[string]bool, exprs []string) {
	t.Helper()
	records = map[string]bool{}
	for _, r := range rules(t) {
		if r.Record != "" {
			records[r.Record] = true
		}
		exprs = append(exprs, r.Expr)
	}
	return records, exprs
}

// metricsIn parses a query and returns the metric names it selects.
func metricsIn(q string) ([]string, error) {
	// Grafana fills its interval variables in before Prometheus sees them.
	q = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(q)
	expr, err := promql.NewParser(promql.Options{}).ParseExpr(q)
	if err != nil {
		return nil, err
	}
	var names []string
	promql.Inspect(expr, func(n promql.Node, _ []promql.Node) error {
		if vs, ok := n.(*promql.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, nil
}

// known says whether a selected series is catalogued: as itself, as a
// histogram's _bucket, _sum or _count, or as a recording rule.
func known(name string, cat, records map[string]bool) bool {
	if cat[name] || records[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && cat[base] {
			return true
		}
	}
	return false
}

// TestQueriesNameCataloguedMetrics parses every rule and every dashboard
// panel's query, and checks each metric it names is in the catalogue.
func TestQueriesNameCataloguedMetrics(t *testing.T) {
	cat := catalogue(t)
	records, ruleExprs := recordingRules(t)
	check := func(where, q string) {
		names, err := metricsIn(q)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", where, q, err)
			return
		}
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, q)
		}
		for _, n := range names {
			if !known(n, cat, records) {
				t.Errorf("%s: %s is not in docs/metrics.md", where, n)
			}
		}
	}
	for _, q := range ruleExprs {
		check("rules.yml", q)
	}
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) < 7 {
		t.Fatalf("%d dashboards, want the overview, one per service, JetStream and MinIO", len(files))
	}
	panels := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID, Title string
			Panels     []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, title %q, %d panels", file, d.UID, d.Title, len(d.Panels))
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
			for _, tg := range p.Targets {
				check(filepath.Base(file)+": "+p.Title, tg.Expr)
			}
			panels++
		}
	}
	t.Logf("%d dashboards, %d panels, %d rules checked", len(files), panels, len(ruleExprs))
}

// TestRunbookCoversEveryAlert: each alert's runbook link leads to its
// own heading in docs/operations.md.
func TestRunbookCoversEveryAlert(t *testing.T) {
	book, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		n++
		if want := "docs/operations.md#" + strings.ToLower(r.Alert); r.Annotations["runbook"] != want {
			t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], want)
		}
		if !strings.Contains(string(book), "\n### "+r.Alert+"\n") {
			t.Errorf("docs/operations.md has no section for %s", r.Alert)
		}
	}
	if n < 7 {
		t.Errorf("%d alerts", n)
	}
}
