package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/domicile/domicile/internal/app"
)

// cacheFlags are the memory flags of dev and serve (see app.Caches).
type cacheFlags struct {
	block byteSize
	keys  *int
}

// addCacheFlags defines --block-cache and --key-cache on fs.
func addCacheFlags(fs *flag.FlagSet) *cacheFlags {
	c := &cacheFlags{block: app.DefaultBlockCache}
	fs.Var(&c.block, "block-cache", "storage block cache shared by the process's regions, as bytes or with a unit (`SIZE`: 64MiB, 1GiB)")
	c.keys = fs.Int("key-cache", app.DefaultKeyCache, "subject keys each region keeps unwrapped in memory (about 0.4 KiB each)")
	return c
}

// check refuses sizes that would leave no cache.
func (c *cacheFlags) check(cmd string) error {
	if c.block < 1<<20 {
		return usageErrorf("%s: --block-cache must be at least 1MiB", cmd).withHint("for example: --block-cache 64MiB")
	}
	if *c.keys < 1 {
		return usageErrorf("%s: --key-cache must be at least 1", cmd).withHint("for example: --key-cache 16384")
	}
	return nil
}

// byteSize is a flag.Value of bytes: a number with an optional unit (B,
// KiB, MiB, GiB, or K, M, G meaning the same powers of 1024).
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// parseByteSize parses "64MiB", "512K", "1GiB" or "1048576".
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is not a size: write bytes or a number with KiB, MiB or GiB, such as 64MiB", s)
	}
	return n * unit, nil
}
