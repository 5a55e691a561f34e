package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store"
)

// scanDEKs calls fn for every live wrapped DEK, in key order, a page at a
// time.
func (k *Keyring) scanDEKs(ctx context.Context, fn func(key, env []byte) error) error {
	start := []byte(prefixDEK)
	end := store.PrefixEnd(start)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		kvs, err := k.st.Scan(ctx, start, end, k.rewrapPage)
		if err != nil {
			return fmt.Errorf("keyring: region %s: scanning subject keys: %w", k.region, err)
		}
		for _, kv := range kvs {
			if len(kv.Key) == len(prefixDEK)+k.suite.MAC().Size()+4 {
				if err := fn(kv.Key, kv.Value); err != nil {
					return err
				}
			}
		}
		if len(kvs) < k.rewrapPage {
			return nil
		}
		start = append(kvs[len(kvs)-1].Key, 0)
	}
}

// Rewrap rewraps every DEK that is not under the current data KEK with the
// current one, and returns how many it rewrapped. DEKs are unwrapped and
// rewrapped in memory only; the DEKs themselves do not change, so field
// ciphertexts stay valid, also when the current data KEK is of another
// suite (after Migrate: a DEK keeps its native suite, dek.go). progress, if
// not nil, is called after every batch
// with the number done and an estimate of the total (from store counters).
//
// Rewrap is idempotent and resumable: stop it (cancel ctx) at any point and
// run it again to continue. A DEK erased meanwhile is skipped, never
// resurrected. Errors are ctx's, store errors, or corrupt key material,
// wrapped with context.
func (k *Keyring) Rewrap(ctx context.Context, progress func(done, total int)) (int, error) {
	if k.closed.Load() {
		return 0, ErrClosed
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return 0, err
	}
	cur := r.current[Data]
	total := 0
	for v := range r.keks[Data] {
		if v == cur {
			continue
		}
		n, err := k.st.Counter(ctx, dekCounter(v))
		if err != nil {
			return 0, fmt.Errorf("keyring: region %s: reading counters: %w", k.region, err)
		}
		total += int(max(n, 0))
	}
	done := 0
	var b store.Batch
	var items []rewrapItem
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		n, err := k.applyRewraps(ctx, &b, items)
		done += n
		b.Reset()
		items = items[:0]
		if progress != nil {
			progress(done, max(total, done))
		}
		return err
	}
	err = k.scanDEKs(ctx, func(key, env []byte) error {
		h, ct, err := envelope.Parse(env)
		if err != nil {
			return fmt.Errorf("keyring: region %s: subject key: %w", k.region, err)
		}
		if h.KeyVersion == cur {
			return nil
		}
		it, err := k.rewrapOne(ctx, key, env, h, ct, cur)
		if err != nil {
			return err
		}
		it.add(&b)
		items = append(items, it)
		if len(items) >= k.rewrapPage {
			return flush()
		}
		return nil
	})
	if err != nil {
		return done, err
	}
	return done, flush()
}

// rewrapItem is the rewrap of one DEK, ready to go into a batch.
type rewrapItem struct {
	key, tomb, old, env []byte
	from, to            uint32
}

func (it *rewrapItem) add(b *store.Batch) {
	b.Expect(it.tomb, nil) // erased meanwhile: fail rather than resurrect
	b.Expect(it.key, it.old)
	b.Put(it.key, it.env)
	b.Add(dekCounter(it.from), -1)
	b.Add(dekCounter(it.to), 1)
}

func (k *Keyring) rewrapOne(ctx context.Context, key, sealed []byte, h envelope.Header, ct []byte, cur uint32) (rewrapItem, error) {
	n := len(prefixDEK) + k.suite.MAC().Size()
	ref := key[len(prefixDEK):n]
	gen := uint32(key[n])<<24 | uint32(key[n+1])<<16 | uint32(key[n+2])<<8 | uint32(key[n+3])
	old, err := k.kekFor(ctx, Data, h.KeyVersion)
	if err != nil {
		return rewrapItem{}, err
	}
	b := k.dekBinding(ref, gen)
	if h.Suite != old.suite.ID() {
		return rewrapItem{}, fmt.Errorf("keyring: region %s: subject key names suite %s, its data key v%d is %s", k.region, h.Suite, h.KeyVersion, old.suite.ID())
	}
	pt, err := envelope.Open(old.aead, h, ct, b)
	if err != nil {
		return rewrapItem{}, fmt.Errorf("keyring: region %s: unwrapping subject key: %w", k.region, err)
	}
	defer clear(pt)
	secret, native, err := decodeDEK(pt, old.suite)
	if err != nil {
		return rewrapItem{}, fmt.Errorf("keyring: region %s: subject key: %v", k.region, err)
	}
	next := k.ring.Load().keks[Data][cur]
	npt := encodeDEK(secret, native, next.suite)
	defer clear(npt)
	env, err := envelope.Seal(next.aead, k.rand, next.suite.ID(), cur, b, npt)
	if err != nil {
		return rewrapItem{}, fmt.Errorf("keyring: region %s: wrapping subject key: %w", k.region, err)
	}
	return rewrapItem{key: key, tomb: tombKey(ref, gen), old: sealed, env: env, from: h.KeyVersion, to: cur}, nil
}

// applyRewraps applies a batch of rewraps; if one of its DEKs was erased
// meanwhile (ErrConflict) it applies them one by one, skipping the erased.
func (k *Keyring) applyRewraps(ctx context.Context, b *store.Batch, items []rewrapItem) (int, error) {
	err := k.st.Apply(ctx, b)
	if err == nil {
		return len(items), nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return 0, fmt.Errorf("keyring: region %s: rewrapping: %w", k.region, err)
	}
	n := 0
	for i := range items {
		var one store.Batch
		items[i].add(&one)
		switch err := k.st.Apply(ctx, &one); {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConflict):
		default:
			return n, fmt.Errorf("keyring: region %s: rewrapping: %w", k.region, err)
		}
	}
	return n, nil
}

// rewrapStep is one step of the rewrap job: it scans up to limit entries of
// the DEK key space from the key from (nil: the start), rewraps those DEKs
// not under the current data KEK, and hands the batch of rewraps to commit
// with the page's result; commit adds its own operations (the job's
// progress and lease) and applies the batch atomically.
//
// If commit fails with store.ErrConflict, rewrapStep drops the DEKs erased
// or changed meanwhile and calls commit once more; a second conflict (the
// caller's own operations, such as a lost lease) is returned, wrapped.
// Nothing is written unless commit succeeds.
func (k *Keyring) rewrapStep(ctx context.Context, from []byte, limit int, commit func(b *store.Batch, pr pageResult) error) (pageResult, error) {
	if k.closed.Load() {
		return pageResult{}, ErrClosed
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return pageResult{}, err
	}
	cur := r.current[Data]
	start := from
	if len(start) == 0 {
		start = []byte(prefixDEK)
	}
	kvs, err := k.st.Scan(ctx, start, store.PrefixEnd([]byte(prefixDEK)), limit)
	if err != nil {
		return pageResult{}, fmt.Errorf("keyring: region %s: scanning subject keys: %w", k.region, err)
	}
	pr := pageResult{next: start, scanned: len(kvs), end: len(kvs) < limit}
	if len(kvs) > 0 {
		pr.next = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
	var items []rewrapItem
	for _, kv := range kvs {
		if len(kv.Key) != len(prefixDEK)+k.suite.MAC().Size()+4 {
			continue // a tombstone
		}
		h, ct, err := envelope.Parse(kv.Value)
		if err != nil {
			return pageResult{}, fmt.Errorf("keyring: region %s: subject key: %w", k.region, err)
		}
		if h.KeyVersion == cur {
			continue
		}
		it, err := k.rewrapOne(ctx, kv.Key, kv.Value, h, ct, cur)
		if err != nil {
			return pageResult{}, err
		}
		items = append(items, it)
	}
	for attempt := 0; ; attempt++ {
		var b store.Batch
		for i := range items {
			items[i].add(&b)
		}
		pr.rewrapped = len(items)
		err := commit(&b, pr)
		if err == nil || attempt > 0 || !errors.Is(err, store.ErrConflict) || len(items) == 0 {
			if err != nil {
				return pageResult{}, fmt.Errorf("keyring: region %s: rewrapping: %w", k.region, err)
			}
			return pr, nil
		}
		if items, err = k.unchanged(ctx, items); err != nil {
			return pageResult{}, err
		}
	}
}

// pageResult is what one rewrapStep did.
type pageResult struct {
	next      []byte // where the next page starts
	scanned   int    // entries read (keys and tombstones)
	rewrapped int    // DEKs moved to the current data KEK
	end       bool   // no entries after this page
}

// unchanged keeps the items whose DEK still holds the envelope read and
// has no tombstone: the others were erased (or rewrapped) meanwhile.
func (k *Keyring) unchanged(ctx context.Context, items []rewrapItem) ([]rewrapItem, error) {
	keys := make([][]byte, 0, 2*len(items))
	for _, it := range items {
		keys = append(keys, it.key, it.tomb)
	}
	vals, err := store.GetMany(ctx, k.st, keys)
	if err != nil {
		return nil, fmt.Errorf("keyring: region %s: rereading subject keys: %w", k.region, err)
	}
	out := items[:0]
	for i, it := range items {
		if vals[2*i+1] == nil && bytes.Equal(vals[2*i], it.old) {
			out = append(out, it)
		}
	}
	return out, nil
}
