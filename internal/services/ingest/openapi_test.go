package ingest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pressline/pressline/pkg/client"
)

type openAPIDoc struct {
	OpenAPI    string `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage
	Components struct {
		Schemas struct {
			Problem struct {
				Properties struct {
					Type struct {
						Enum []string `json:"enum"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"Problem"`
		} `json:"schemas"`
	} `json:"components"`
}

// TestOpenAPIMatchesRoutes keeps openapi.json true: every route the
// service serves is documented, every documented operation is served,
// and every problem type the code can answer with is listed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	inDoc := func(rt route) bool {
		method, path, _ := strings.Cut(strings.Replace(rt.pattern, "{$}", "", 1), " ")
		_, ok := doc.Paths[path][strings.ToLower(method)]
		return ok
	}
	served := map[string]bool{}
	for _, rt := range routeTable {
		served[rt.pattern] = true
		if !inDoc(rt) {
			t.Errorf("%s is served but not documented", rt.pattern)
		}
	}
	for _, rt := range pageTable {
		if inDoc(rt) {
			t.Errorf("%s is for browsers, yet documented as an operation of the API", rt.pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if p := strings.ToUpper(method) + " " + path; !served[p] && !served[p+"{$}"] {
				t.Errorf("%s is documented but not served", p)
			}
		}
	}

	documented := doc.Components.Schemas.Problem.Properties.Type.Enum
	for _, typ := range problemTypesInCode(t) {
		if !slices.Contains(documented, client.ProblemTypePrefix+typ) {
			t.Errorf("problem type %q is answered but not in openapi.json", typ)
		}
	}
}

// problemTypesInCode finds every Type: "…" in a problem literal, and every
// assignment p.Type = "…", in the package's source.
func problemTypesInCode(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	fset := gotoken.NewFileSet()
	var types []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Type" {
					if lit, ok := n.Value.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						s, _ := strconv.Unquote(lit.Value)
						types = append(types, s)
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Type" && i < len(n.Rhs) {
						if lit, ok := n.Rhs[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
							s, _ := strconv.Unquote(lit.Value)
							types = append(types, s)
						}
					}
				}
			}
			return true
		})
	}
	if len(types) < 20 {
		t.Fatalf("found %d problem types in the code; the scan is broken", len(types))
	}
	return types
}

func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := http.Get(f.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
	}
}
