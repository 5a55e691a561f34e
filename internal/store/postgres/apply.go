package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/domicile/domicile/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// counterShards is how many rows one counter is spread over. Each Apply
// adds to one shard chosen at random, so two writers of a hot counter wait
// for each other's commit only when they pick the same shard.
const counterShards = 16

// maxAttempts bounds how often Apply sends a batch that the database
// aborted for a transient reason (deadlock, serialization failure, a pooled
// connection that died before the batch reached the server).
const maxAttempts = 5

// SQL of the batch operations.
const (
	sqlPut    = "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
	sqlInsert = "INSERT INTO kv (k, v) VALUES ($1, $2)" // a unique violation is the conflict
	sqlDelete = "DELETE FROM kv WHERE k = $1"
	sqlExpect = "SELECT domicile_expect($1, $2)"        // migration 0002; raises codeExpectFailed
	sqlClaim  = "SELECT domicile_claim($1, $2, $3, $4)" // migration 0003; NULL when claimed, else the value
	sqlAdd    = "INSERT INTO counters (k, shard, n) VALUES ($1, $2, $3) ON CONFLICT (k, shard) DO UPDATE SET n = counters.n + excluded.n"
)

// SQLSTATEs Apply handles.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeDuplicateTable       = "42P07"
	codeExpectFailed         = "DM001" // raised by domicile_expect
)

// Apply implements store.Store.
//
// The batch is sent as one pipeline that the server runs as one implicit
// transaction and commits at its end; Apply returns when the commit is
// acknowledged, which with synchronous_commit on means it is in the
// write-ahead log on disk (and on synchronous standbys, if configured).
// Concurrent Applies share WAL flushes through PostgreSQL's group commit.
//
// Key operations are sorted by key (stably, so operations on one key keep
// their order) and counter additions are summed per key and sent after
// them, so every transaction takes its row locks in the same global order.
//
// ctx is checked before the batch is sent and bounds the wait for a pooled
// connection; once sent, the batch runs to its commit or failure even if
// ctx ends, so that an error means nothing was applied. A connection lost
// after sending is the exception every networked database has: the commit
// may or may not have happened (the vault's idempotency keys make a retried
// create safe).
func (s *Store) Apply(ctx context.Context, b *store.Batch) error {
	if err := s.acquire(ctx, "apply"); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if b == nil || b.Len() == 0 {
		return nil
	}
	if err := b.Validate(); err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	batch, claims, err := build(b.Ops())
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		b.ResetClaims()
		err := s.send(ctx, batch, claims)
		if err == nil {
			return nil
		}
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// send runs batch once on a pooled connection. claims, unless nil, has the
// Claim of every queued statement that is one (nil for the others), whose
// answers send reads.
func (s *Store) send(ctx context.Context, batch *pgx.Batch, claims []*store.Claim) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap(ctx, "apply", err)
	}
	defer conn.Release()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	br := conn.SendBatch(context.WithoutCancel(ctx), batch)
	err = readClaims(br, claims)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return fmt.Errorf("postgres: apply: insert of a key that exists: %w", store.ErrConflict)
	}
	if errors.As(err, &pgErr) && pgErr.Code == codeExpectFailed {
		return fmt.Errorf("postgres: apply: expect: %s: %w", pgErr.Message, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	return nil
}

// readClaims reads the answers of the pipeline's statements in order until
// the last claim, setting each claim's outcome; the first error stops it.
func readClaims(br pgx.BatchResults, claims []*store.Claim) error {
	last := len(claims) - 1
	for last >= 0 && claims[last] == nil {
		last--
	}
	for _, c := range claims[:last+1] {
		if c == nil {
			if _, err := br.Exec(); err != nil {
				return err
			}
			continue
		}
		var v []byte
		if err := br.QueryRow().Scan(&v); err != nil {
			return err
		}
		if v == nil {
			*c = store.Claim{Won: true}
		} else {
			*c = store.Claim{Value: v}
		}
	}
	return nil
}

// retryable reports whether err aborted the batch before anything was
// committed, for a reason that may not recur.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	return pgconn.SafeToRetry(err)
}

// build turns ops into the statements of one pipeline, and returns with it
// the Claim of every statement that is one (nil for the others), or nil if
// no statement is.
func build(ops []store.Op) (*pgx.Batch, []*store.Claim, error) {
	kvOps := make([]store.Op, 0, len(ops))
	var adds map[string]int64
	hasClaims := false
	for i, op := range ops {
		switch op.Kind {
		case store.OpClaim:
			hasClaims = true
			kvOps = append(kvOps, op)
		case store.OpPut, store.OpInsert, store.OpDelete, store.OpExpect:
			kvOps = append(kvOps, op)
		case store.OpAdd:
			if adds == nil {
				adds = make(map[string]int64)
			}
			// Wrapping addition: if the batch's total for the key fits
			// in int64, so does this sum, whatever the order.
			adds[string(op.Key)] += op.Delta
		default:
			return nil, nil, fmt.Errorf("postgres: apply: op %d: unknown kind %d", i, op.Kind)
		}
	}
	slices.SortStableFunc(kvOps, func(a, b store.Op) int { return bytes.Compare(a.Key, b.Key) })
	batch := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(kvOps)+len(adds))}
	var claims []*store.Claim
	if hasClaims {
		claims = make([]*store.Claim, len(kvOps))
	}
	for i, op := range kvOps {
		value := op.Value
		if value == nil {
			value = []byte{} // nil would be NULL; an empty value is a value
		}
		switch op.Kind {
		case store.OpClaim:
			keys := make([][]byte, len(op.Then))
			values := make([][]byte, len(op.Then))
			for j, kv := range op.Then {
				keys[j], values[j] = kv.Key, kv.Value
				if values[j] == nil {
					values[j] = []byte{}
				}
			}
			batch.Queue(sqlClaim, op.Key, value, keys, values)
			claims[i] = op.Claim
		case store.OpPut:
			batch.Queue(sqlPut, op.Key, value)
		case store.OpInsert:
			batch.Queue(sqlInsert, op.Key, value)
		case store.OpDelete:
			batch.Queue(sqlDelete, op.Key)
		case store.OpExpect:
			batch.Queue(sqlExpect, op.Key, op.Value) // nil is NULL: absent
		}
	}
	if len(adds) > 0 {
		keys := make([]string, 0, len(adds))
		for k := range adds {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, cmp.Compare)
		shard := int16(rand.IntN(counterShards))
		for _, k := range keys {
			batch.Queue(sqlAdd, []byte(k), shard, adds[k])
		}
	}
	return batch, claims, nil
}
