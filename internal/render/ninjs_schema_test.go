package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ninjsSchema is IPTC's own ninjs 3.0 schema, as published, beside the
// repository.
const ninjsSchema = "../../../shared/standards/ninjs/ninjs-schema_3.0.json"

// TestNinjsValidates validates every golden ninjs document against IPTC's
// ninjs 3.0 schema (JSON Schema draft 2020-12), formats asserted.
func TestNinjsValidates(t *testing.T) {
	schema := compileNinjs(t)
	docs, _ := filepath.Glob("testdata/*.ninjs.json")
	if len(docs) < 4 {
		t.Fatalf("%d golden ninjs documents", len(docs))
	}
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s is not valid ninjs 3.0:\n%v", path, err)
		}
	}
}

// The validator is not lenient: a document with a 2.x name is refused.
func TestNinjsSchemaRefuses(t *testing.T) {
	schema := compileNinjs(t)
	bad := map[string]any{"uri": "https://news.example/a/", "firstcreated": "2026-11-20T09:30:00Z"}
	raw, _ := json.Marshal(bad)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err := schema.Validate(doc); err == nil {
		t.Error("a document with firstcreated (2.x) validated")
	}
}

func compileNinjs(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(ninjsSchema)
	if err != nil {
		t.Fatalf("the ninjs schema from ../shared/standards: %v", err)
	}
	defer f.Close()
	s, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// The ninjs schema refers to the GeoJSON schema for a place's
	// geoJSON, which cannot be fetched here. Pressline writes no geoJSON,
	// so in its place goes the schema that refuses everything: a
	// document that did carry geoJSON would fail, not pass unchecked.
	if err := c.AddResource("https://geojson.org/schema/GeoJSON.json", false); err != nil {
		t.Fatal(err)
	}
	const id = "http://www.iptc.org/std/ninjs/ninjs-schema_3.0.json"
	if err := c.AddResource(id, s); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return schema
}
