package vault

import "context"

// ListByCollectionBudget is ListByCollection with a scan budget, for tests
// of short pages.
func (v *Vault) ListByCollectionBudget(ctx context.Context, collection, cursor string, n, budget int) (*Page, error) {
	return v.listByCollection(ctx, collection, cursor, n, budget)
}
