// Package guardbench holds the benchmark of the guard's overhead on reads
// through a whole region (issue 7). It is apart from package guard so that
// the guard's own tests do not depend on the wiring in internal/app.
package guardbench
