package need

import "testing"

func TestHas(t *testing.T) {
	t.Setenv("CI", "")
	if !Has(t, "sh") {
		t.Error("sh was not found")
	}
	if Has(t, "flowcam-no-such-tool") {
		t.Error("a program that does not exist was found")
	}
}
