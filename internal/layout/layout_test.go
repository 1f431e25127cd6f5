package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// rules: a package under the prefix may import no flowcam package under
// any of the forbidden prefixes.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"flowcam/stream/format/", []string{"flowcam/stream/server", "flowcam/stream/client", "flowcam/stream/auth", "flowcam/capture", "flowcam/platform", "flowcam/internal"}},
	{"flowcam/stream/server/", []string{"flowcam/stream/client", "flowcam/platform", "flowcam/internal/daemon", "flowcam/internal/client"}},
	{"flowcam/stream/client/", []string{"flowcam/stream/server", "flowcam/capture", "flowcam/platform", "flowcam/internal/daemon", "flowcam/internal/client"}},
	{"flowcam/stream/auth", []string{"flowcam/stream/", "flowcam/capture", "flowcam/platform"}},
	{"flowcam/capture", []string{"flowcam/stream", "flowcam/platform", "flowcam/internal/daemon", "flowcam/internal/client"}},
	{"flowcam/platform", []string{"flowcam/stream", "flowcam/internal/daemon", "flowcam/internal/client"}},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "flowcam/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "flowcam/") {
				continue
			}
			if strings.HasPrefix(imp, "flowcam/internal/testutil") && !strings.HasPrefix(p.ImportPath, "flowcam/internal/testutil") {
				t.Errorf("%s imports test tooling %s", p.ImportPath, imp)
			}
			for _, r := range rules {
				if !strings.HasPrefix(p.ImportPath, r.pkg) {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(imp, f) && !strings.HasPrefix(imp, r.pkg) {
						t.Errorf("%s imports %s (docs/architecture.md: %s may not import %s)", p.ImportPath, imp, r.pkg, f)
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d packages listed", checked)
	}
}
