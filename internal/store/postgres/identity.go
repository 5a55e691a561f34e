package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// codeUndefinedFunction is PostgreSQL's SQLSTATE for a function the server
// does not have.
const codeUndefinedFunction = "42883"

// Identity returns what tells this store's database apart from a copy of
// it: the cluster's system identifier, the database's OID and the schema,
// as "SYSID/OID/SCHEMA". A dump loaded with pg_restore or psql into another
// database (of this cluster or another one) or another schema has another
// identity; the same database after a restart, a rename, or a failover to a
// physical standby keeps its own. A new cluster made from it (pg_upgrade,
// a logical copy) has another one too.
//
// Where the server has no pg_control_system (some PostgreSQL-compatible
// databases), Identity returns "" and no error: the identity is unknown.
// Other errors are the database's, wrapped.
func (s *Store) Identity(ctx context.Context) (string, error) {
	if err := s.acquire(ctx, "identity"); err != nil {
		return "", err
	}
	defer s.mu.RUnlock()
	var id string
	err := s.pool.QueryRow(ctx, `SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' ||
		(SELECT oid FROM pg_database WHERE datname = current_database())::text || '/' || current_schema()`).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUndefinedFunction {
		return "", nil
	}
	if err != nil {
		return "", wrap(ctx, "identity", err)
	}
	return id, nil
}
