package main

import "context"

// runPolicy checks policy files (being written).
func runPolicy(ctx context.Context, e *env, args []string) error { return errNotYet }
