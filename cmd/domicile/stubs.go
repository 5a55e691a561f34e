package main

import (
	"context"
	"errors"
)

// Subcommands still being written; each moves to its own file.
var errNotYet = errors.New("not available in this build")

func runDev(ctx context.Context, e *env, args []string) error     { return errNotYet }
func runServe(ctx context.Context, e *env, args []string) error   { return errNotYet }
func runGateway(ctx context.Context, e *env, args []string) error { return errNotYet }
func runRecords(ctx context.Context, e *env, args []string) error { return errNotYet }
func runKeys(ctx context.Context, e *env, args []string) error    { return errNotYet }
