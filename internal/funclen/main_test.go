package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMeasure(t *testing.T) {
	body := "package p\n\nfunc short() {}\n\ntype T struct{}\n\nfunc (t *T) long() {\n" +
		strings.Repeat("\t_ = 1\n", 80) + "}\n"
	p := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := measure([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].name != "short" || got[0].lines != 1 || got[1].name != "T.long" || got[1].lines != 82 {
		t.Fatalf("%+v", got)
	}
}
