// Package snakecase checks that a JSON document a program writes for
// others (status, reports) names every key in snake_case, so scripts and
// dashboards see one style, and a Go field without a json tag shows up.
package snakecase

import (
	"encoding/json"
	"regexp"
	"sort"
	"testing"
)

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// Check fails the test for each key in doc that is not snake_case.
func Check(t testing.TB, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	bad := map[string]bool{}
	walk(v, "", bad)
	var keys []string
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("JSON key %s is not snake_case", k)
	}
}

func walk(v any, at string, bad map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if !snake.MatchString(k) {
				bad[at+"."+k] = true
			}
			walk(e, at+"."+k, bad)
		}
	case []any:
		for _, e := range v {
			walk(e, at+"[]", bad)
		}
	}
}
