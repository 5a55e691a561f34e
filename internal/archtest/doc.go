// Package archtest holds the test that keeps the package map of
// DESIGN.md true: one `go list -deps` over the module, checked against a
// table of arrows (which packages may not depend on which, and why). It
// has no code of its own.
package archtest
