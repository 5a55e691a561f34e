package main

import "context"

// runCrypto is the operator's crypto toolbox (being written).
func runCrypto(ctx context.Context, e *env, args []string) error { return errNotYet }
