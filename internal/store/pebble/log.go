package pebble

import (
	"github.com/cockroachdb/redact"
)

// logger adapts Options.Logger to Pebble's Logger. Pebble marks the
// arguments that are safe to log (file numbers, levels, sizes); everything
// else, keys and values included, is redacted before logf sees it.
type logger struct {
	logf func(format string, args ...any) // nil discards
}

func (l logger) Infof(format string, args ...any) {
	if l.logf != nil {
		l.logf("pebble: %s", redacted(format, args))
	}
}

func (l logger) Errorf(format string, args ...any) {
	if l.logf != nil {
		l.logf("pebble: error: %s", redacted(format, args))
	}
}

// Fatalf is called by Pebble for failures it cannot continue after (a
// failed WAL or MANIFEST write, corruption). Pebble's default logger exits
// the process; this one panics, also when logging is off, so the failure is
// never silently ignored.
func (l logger) Fatalf(format string, args ...any) {
	msg := redacted(format, args)
	if l.logf != nil {
		l.logf("pebble: fatal: %s", msg)
	}
	panic("pebble: fatal: " + msg)
}

func redacted(format string, args []any) string {
	return string(redact.Sprintf(format, args...).Redact())
}
