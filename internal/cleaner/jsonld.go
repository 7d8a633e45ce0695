package cleaner

import (
	"encoding/json"
	"strings"
)

// ldArticle is the part of a schema.org NewsArticle in JSON-LD we read.
type ldArticle struct {
	Type           any               `json:"@type"`
	Headline       string            `json:"headline"`
	DatePublished  string            `json:"datePublished"`
	Author         any               `json:"author"`
	ArticleSection any               `json:"articleSection"`
	InLanguage     string            `json:"inLanguage"`
	Keywords       any               `json:"keywords"`
	Graph          []json.RawMessage `json:"@graph"`
}

func parseLD(s string) ldArticle {
	var raw json.RawMessage = []byte(strings.TrimSpace(s))
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	for _, item := range list {
		var a ldArticle
		if json.Unmarshal(item, &a) != nil {
			continue
		}
		if strings.Contains(strings.ToLower(anyString(a.Type)), "article") && a.Headline != "" {
			return a
		}
		for _, g := range a.Graph {
			if inner := parseLD(string(g)); inner.Headline != "" {
				return inner
			}
		}
	}
	return ldArticle{}
}

func (a ldArticle) authors() []string {
	var out []string
	var add func(v any)
	add = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, splitNames(normalize(t))...)
		case map[string]any:
			if n, ok := t["name"].(string); ok {
				out = append(out, normalize(n))
			}
		case []any:
			for _, x := range t {
				add(x)
			}
		}
	}
	add(a.Author)
	return out
}

func (a ldArticle) section() string { return anyString(a.ArticleSection) }

// keywords are JSON-LD's, a comma-separated string or a list.
func (a ldArticle) keywords() []string {
	var raw []string
	switch k := a.Keywords.(type) {
	case string:
		raw = strings.Split(k, ",")
	case []any:
		for _, v := range k {
			if s, ok := v.(string); ok {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	for _, k := range raw {
		if k = normalize(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func anyString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			return anyString(t[len(t)-1])
		}
	}
	return ""
}
