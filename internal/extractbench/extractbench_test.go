package extractbench

import (
	"math"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		truth, pred string
		tp, fp, fn  int
	}{
		{"one two three four five", "one two three four five", 2, 0, 0},
		{"one two three four five", "one two three four", 1, 0, 1},
		{"one two three four", "zero one two three four", 1, 1, 0},
		// Punctuation and spacing do not count; case does.
		{"One, two; three four!", "One two three\nfour", 1, 0, 0},
		{"One two three four", "one two three four", 0, 1, 1},
		// A combining mark splits a token (NFD "é" is e + U+0301).
		{"cafe\u0301s au lait now", "cafes au lait now", 0, 1, 2},
		// Repeats count as many times as they occur.
		{"a b c d a b c d", "a b c d", 1, 0, 4},
	}
	for _, tt := range tests {
		tp, fp, fn := Match(tt.truth, tt.pred)
		if tp != tt.tp || fp != tt.fp || fn != tt.fn {
			t.Errorf("Match(%q, %q) = %d %d %d, want %d %d %d", tt.truth, tt.pred, tp, fp, fn, tt.tp, tt.fp, tt.fn)
		}
	}
}

func TestRunAverages(t *testing.T) {
	pages := []Page{{ID: "a", Truth: "one two three four five"}, {ID: "b", Truth: "six seven eight nine"}, {ID: "c", Truth: "ten eleven twelve thirteen"}}
	got := Run(pages, func(p Page) (string, error) {
		switch p.ID {
		case "a":
			return "one two three four five", nil // P 1, R 1
		case "b":
			return "six seven eight nine extra", nil // P 0.5, R 1
		}
		return "", nil // no prediction: recall 0, no precision
	})
	want := Score{Precision: 0.75, Recall: 2.0 / 3, Pages: 3}
	want.F1 = 2 * want.Precision * want.Recall / (want.Precision + want.Recall)
	if math.Abs(got.Precision-want.Precision) > 1e-9 || math.Abs(got.Recall-want.Recall) > 1e-9 || math.Abs(got.F1-want.F1) > 1e-9 {
		t.Errorf("Run = P %v R %v F1 %v, want %v %v %v", got.Precision, got.Recall, got.F1, want.Precision, want.Recall, want.F1)
	}
}
