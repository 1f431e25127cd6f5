// Command funclen is the function-length check behind `make lint`: it lists
// every function longer than -max lines (from `func` to its closing brace) in
// the Go files it is given, and exits 1 if there is one. A function that does
// not fit on a screen hides its structure; gocyclo and friends would need the
// network to install, and this needs nothing but go/parser.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
)

type long struct {
	pos   token.Position
	name  string
	lines int
}

func main() {
	max := flag.Int("max", 80, "longest function allowed, in lines")
	top := flag.Int("top", 0, "also print the N longest functions, whatever their length")
	flag.Parse()
	all, err := measure(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].lines > all[j].lines })
	for i, f := range all {
		if i < *top {
			fmt.Printf("%4d  %s  %s\n", f.lines, f.name, f.pos)
		}
	}
	bad := 0
	for _, f := range all {
		if f.lines > *max {
			fmt.Fprintf(os.Stderr, "%s: %s is %d lines (at most %d)\n", f.pos, f.name, f.lines, *max)
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "funclen: %d functions over %d lines: split them\n", bad, *max)
		os.Exit(1)
	}
}

// measure parses each file and returns the length of every function
// declaration in it.
func measure(files []string) ([]long, error) {
	fset := token.NewFileSet()
	var out []long
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start := fset.Position(fn.Pos())
			end := fset.Position(fn.End())
			out = append(out, long{pos: start, name: funcName(fn), lines: end.Line - start.Line + 1})
		}
	}
	return out, nil
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
