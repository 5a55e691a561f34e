package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
)

// logOptions are the --log-format and --log-level flags of the servers
// (dev, serve, gateway).
type logOptions struct {
	format logFormat
	level  logLevel
}

// addLogFlags adds --log-format and --log-level to fs. A value they do
// not know fails parsing, as a usage error.
func addLogFlags(fs *flag.FlagSet) *logOptions {
	f := &logOptions{format: "text", level: logLevel{slog.LevelInfo}}
	fs.Var(&f.format, "log-format", "`FORMAT` of the log on stderr: text (key=value lines) or json (one object a line)")
	fs.Var(&f.level, "log-level", "the least severe `LEVEL` logged: debug, info, warn or error (default info)")
	return f
}

// logger returns the logger the flags describe, writing to e's stderr.
func (f *logOptions) logger(e *env) *slog.Logger {
	o := &slog.HandlerOptions{Level: f.level.Level}
	if f.format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, o))
	}
	return slog.New(slog.NewTextHandler(e.stderr, o))
}

// newLogger is the logger of a command without the log flags: text, info.
func newLogger(e *env) *slog.Logger {
	return (&logOptions{format: "text", level: logLevel{slog.LevelInfo}}).logger(e)
}

// logFormat is a --log-format value.
type logFormat string

func (f *logFormat) String() string { return string(*f) }

func (f *logFormat) Set(s string) error {
	switch s {
	case "text", "json":
		*f = logFormat(s)
		return nil
	}
	return fmt.Errorf("want text or json")
}

// logLevel is a --log-level value.
type logLevel struct{ slog.Level }

func (l *logLevel) String() string { return strings.ToLower(l.Level.String()) }

func (l *logLevel) Set(s string) error {
	switch s {
	case "debug":
		l.Level = slog.LevelDebug
	case "info":
		l.Level = slog.LevelInfo
	case "warn":
		l.Level = slog.LevelWarn
	case "error":
		l.Level = slog.LevelError
	default:
		return fmt.Errorf("want debug, info, warn or error")
	}
	return nil
}
