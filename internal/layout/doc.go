// Package layout has no code: its test keeps the import rules that
// docs/architecture.md states (frames flow one way, wire formats import
// no sockets or servers, the server and client sides stay apart, test
// tooling never reaches production code), so a shortcut shows up in CI
// rather than in a review months later.
package layout
