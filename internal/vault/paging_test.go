package vault_test

import (
	"context"
	"testing"

	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/vault"
)

// TestPageLimits: listings and searches take a caller's limit by the one
// rule of package paging: negative is invalid_request, 0 the default.
func TestPageLimits(t *testing.T) {
	f := newVault(t, "cn-north")
	ctx := context.Background()
	create1(t, f.v, cnCustomer("cust-l"))
	if _, err := f.v.ListBySubject(ctx, "cust-l", "", -1); vault.CodeOf(err) != errcode.InvalidRequest {
		t.Errorf("ListBySubject with limit -1: %v, want invalid_request", err)
	}
	if _, err := f.v.Find(ctx, "customers", "email", "wang.wei@example.cn", "", "", -5); vault.CodeOf(err) != errcode.InvalidRequest {
		t.Errorf("Find with limit -5: %v, want invalid_request", err)
	}
	for _, limit := range []int{0, 1, vault.MaxPageSize + 1} {
		p, err := f.v.ListBySubject(ctx, "cust-l", "", limit)
		if err != nil || len(p.Records) != 1 {
			t.Errorf("ListBySubject with limit %d: %v", limit, err)
		}
		p, err = f.v.Find(ctx, "customers", "email", "wang.wei@example.cn", "", "", limit)
		if err != nil || len(p.Records) != 1 {
			t.Errorf("Find with limit %d: %v", limit, err)
		}
	}
}
