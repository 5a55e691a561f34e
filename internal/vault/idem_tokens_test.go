package vault_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/vault"
)

// newTokenVault is newVault with the token service, as the app wires it.
func newTokenVault(t *testing.T, region string) *fixture {
	t.Helper()
	f := newVault(t, region)
	svc, err := tokens.New(tokens.Options{Region: region, Policy: f.pol, Keyring: f.kr, Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	if f.v, err = vault.New(vault.Options{Policy: f.pol, Region: region, Keyring: f.kr, Store: f.st, Tokens: svc}); err != nil {
		t.Fatal(err)
	}
	return f
}

// idemStoreKey is the vault's store key of an idempotency entry.
func idemStoreKey(scope, key string) []byte {
	h := sha256.New()
	for _, s := range []string{scope, key} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return append([]byte("d/"), h.Sum(nil)...)
}

// TestIdempotentReplayKeepsTokens checks issue 13, item 7: a replayed
// create returns the tokens of the first answer; the outcome is stored
// sealed (no token in clear); an entry written before (ids only) still
// replays, without tokens.
func TestIdempotentReplayKeepsTokens(t *testing.T) {
	f := newTokenVault(t, "cn-north")
	ctx := context.Background()
	// Two subjects, one e-mail address in two spellings: one batch.
	a, b := cnCustomer("cust-a"), cnCustomer("cust-b")
	b.Fields["email"] = "WANG.WEI@example.CN"
	recs := []vault.NewRecord{a, b}
	out, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if len(out[i].Tokens) != 3 || !again[i].Replayed || fmt.Sprint(again[i].Tokens) != fmt.Sprint(out[i].Tokens) || again[i].ID != out[i].ID {
			t.Fatalf("record %d: replay %+v, want %+v", i, again[i], out[i])
		}
	}
	raw, err := f.st.Get(ctx, idemStoreKey("admin", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range out[0].Tokens {
		if contains(raw, tk.Token) {
			t.Errorf("the idempotency entry holds the %s token in clear", tk.Kind)
		}
	}
	// The batch's records share the e-mail's token, but each subject's
	// entry keeps its own spelling (it once kept the batch's first one,
	// cust-a's, which then outlived cust-a's erasure in cust-b's entry):
	// after erasing cust-a the token answers cust-b's.
	if out[0].Tokens[0].Token != out[1].Tokens[0].Token {
		t.Fatal("one e-mail, two tokens")
	}
	if _, err := f.v.EraseSubject(ctx, "cust-a", vault.Actor{}); err != nil {
		t.Fatal(err)
	}
	d, err := f.v.Tokens().Detokenize(ctx, []tokens.DItem{{Token: out[1].Tokens[0].Token}})
	if err != nil || d[0].Err != nil || d[0].Value != "WANG.WEI@example.CN" {
		t.Fatalf("detokenize: %v %+v", err, d)
	}

	// An entry of an earlier version: fingerprint and ids, in clear.
	fpLen, k := binary.Uvarint(raw[1:])
	old := binary.AppendUvarint(nil, fpLen)
	old = append(old, raw[1+k:1+k+int(fpLen)]...)
	for _, c := range out {
		old = binary.AppendUvarint(old, uint64(len(c.ID)))
		old = append(old, c.ID...)
	}
	var batch store.Batch
	batch.Put(idemStoreKey("admin", "k1"), old)
	if err := f.st.Apply(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	legacy, err := f.v.Create(ctx, recs, vault.CreateOptions{IdempotencyKey: "k1", Scope: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(legacy) != 2 || legacy[0].ID != out[0].ID || legacy[1].ID != out[1].ID || !legacy[0].Replayed || legacy[0].Tokens != nil {
		t.Fatalf("replay of an earlier entry: %+v", legacy)
	}
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// TestEraseSubjectRevokesFPETokens checks issue 13, item 1, at the vault:
// the erasure's batch removes the live entries of the subject's fpe
// tokens, so they stop detokenizing with the rest.
func TestEraseSubjectRevokesFPETokens(t *testing.T) {
	f := newTokenVault(t, "cn-north")
	ctx := context.Background()
	out, err := f.v.Create(ctx, []vault.NewRecord{cnCustomer("cust-e")}, vault.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var items []tokens.DItem
	for _, tk := range out[0].Tokens {
		items = append(items, tokens.DItem{Token: tk.Token, Collection: "customers", Field: tk.Field, KeyVersion: tk.KeyVersion})
	}
	check := func(erased bool) {
		t.Helper()
		d, err := f.v.Tokens().Detokenize(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range d {
			c := tokens.CodeOf(r.Err)
			if erased != (c == tokens.CodeSubjectErased || c == tokens.CodeNotFound) || (!erased && r.Err != nil) {
				t.Errorf("%s token (erased %v): %+v", out[0].Tokens[i].Kind, erased, r)
			}
		}
	}
	check(false)
	if n, err := f.v.EraseSubject(ctx, "cust-e", vault.Actor{}); err != nil || n != 1 {
		t.Fatalf("erase: %d %v", n, err)
	}
	check(true)
}

// TestIdempotencyEntryErasure: the tokens an idempotency entry keeps are
// sealed under the subject's data key, so erasing the subject makes them
// unreadable there too (crypto-shredding): a replay before the erasure
// returns them, one after returns the ids only, and the region's keys
// (those a disk copy and the unseal secret give) open nothing of them.
func TestIdempotencyEntryErasure(t *testing.T) {
	f := newTokenVault(t, "cn-north")
	ctx := context.Background()
	recs := []vault.NewRecord{cnCustomer("cust-x"), cnCustomer("cust-y")}
	o := vault.CreateOptions{IdempotencyKey: "k-erase", Scope: "admin"}
	out, err := f.v.Create(ctx, recs, o)
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.v.Create(ctx, recs, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if len(out[i].Tokens) == 0 || fmt.Sprint(before[i].Tokens) != fmt.Sprint(out[i].Tokens) {
			t.Fatalf("replay before the erasure, record %d: %+v, want %+v", i, before[i], out[i])
		}
	}
	if _, err := f.v.EraseSubject(ctx, "cust-x", vault.Actor{}); err != nil {
		t.Fatal(err)
	}
	after, err := f.v.Create(ctx, recs, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 || after[0].ID != out[0].ID || !after[0].Replayed || after[0].Tokens != nil {
		t.Fatalf("replay after erasing cust-x: %+v, want its id without tokens", after[0])
	}
	if after[1].ID != out[1].ID || fmt.Sprint(after[1].Tokens) != fmt.Sprint(out[1].Tokens) {
		t.Fatalf("replay of cust-y's record: %+v, want %+v", after[1], out[1])
	}
	// What the store keeps: no token in clear, and no envelope in the
	// entry opens with the key derived from the region's index KEK.
	raw, err := f.st.Get(ctx, idemStoreKey("admin", "k-erase"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := f.kr.DeriveKey(keyring.Index, 1, "idempotency outcome", f.kr.Suite().AEAD().KeySize())
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.kr.Suite().AEAD().New(key)
	if err != nil {
		t.Fatal(err)
	}
	ik := idemStoreKey("admin", "k-erase")
	for off := range raw {
		h, ct, err := envelope.Parse(raw[off:])
		if err != nil {
			continue
		}
		pt, err := envelope.Open(a, h, ct, envelope.Binding{Region: "cn-north", Collection: "_idempotency", Record: string(ik), Field: "outcome"})
		if err == nil {
			for _, tk := range out[0].Tokens {
				if contains(pt, tk.Token) {
					t.Fatalf("the region's key opens cust-x's %s token in the idempotency entry", tk.Kind)
				}
			}
		}
	}
	for _, tk := range out[0].Tokens {
		if contains(raw, tk.Token) {
			t.Errorf("the idempotency entry holds the %s token in clear", tk.Kind)
		}
	}
}
