package keyring

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/domicile/domicile/internal/store/memstore"
	"sync"
	"testing"
	"time"

	"github.com/domicile/domicile/internal/envelope"
	"github.com/domicile/domicile/internal/store"
	"github.com/domicile/domicile/internal/suite"
)

var tinyKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var testSuites = []suite.Suite{suite.CNSuite(), suite.IntlSuite()}

func opts(st store.Store, s suite.Suite) Options {
	return Options{Region: "eu-central", Suite: s, Store: st, Secret: []byte("correct horse battery staple"), KDF: tinyKDF}
}

func mustOpen(t testing.TB, o Options) *Keyring {
	t.Helper()
	k, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return k
}

// forSuites runs f for both suites with a fresh store.
func forSuites(t *testing.T, f func(t *testing.T, s suite.Suite, st *memstore.Store)) {
	for _, s := range testSuites {
		t.Run(string(s.ID()), func(t *testing.T) { f(t, s, memstore.New()) })
	}
}

// subjectKey gets (creating and committing if needed) a subject's key.
func subjectKey(t testing.TB, k *Keyring, st store.Store, subject string) *SubjectKey {
	t.Helper()
	ctx := context.Background()
	for range 10 {
		var b store.Batch
		sk, err := k.SubjectKey(ctx, subject, &b)
		if err != nil {
			t.Fatalf("SubjectKey: %v", err)
		}
		err = st.Apply(ctx, &b)
		if errors.Is(err, store.ErrConflict) {
			k.Forget(sk)
			continue
		}
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		k.Commit(sk)
		return sk
	}
	t.Fatal("SubjectKey: conflicts did not stop")
	return nil
}

var fieldBinding = envelope.Binding{Region: "eu-central", Collection: "customers", Record: "r1", Field: "email"}

func sealField(t testing.TB, sk *SubjectKey, s suite.Suite, pt string) []byte {
	t.Helper()
	env, err := envelope.Seal(sk.AEAD, rand.Reader, s.ID(), sk.Version, fieldBinding, []byte(pt))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func openField(k *Keyring, subject string, env []byte) (string, error) {
	h, ct, err := envelope.Parse(env)
	if err != nil {
		return "", err
	}
	a, err := k.ExistingSubjectKey(context.Background(), subject, h.KeyVersion, h.Suite)
	if err != nil {
		return "", err
	}
	pt, err := envelope.Open(a, h, ct, fieldBinding)
	return string(pt), err
}

func TestOpenReopen(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		k := mustOpen(t, opts(st, s))
		if k.Region() != "eu-central" || k.Suite().ID() != s.ID() {
			t.Fatalf("Region/Suite = %s/%s", k.Region(), k.Suite().ID())
		}
		sk := subjectKey(t, k, st, "alice")
		if sk.Version != 1 || len(sk.dek) != s.AEAD().KeySize() {
			t.Fatalf("new key: version %d, %d bytes", sk.Version, len(sk.dek))
		}
		env := sealField(t, sk, s, "alice@example.com")
		ref := k.SubjectRef("alice")
		bi, err := k.BlindIndex(1, "customers", "email", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		pub := k.AuditPublicKey()
		k.Close()
		if _, err := k.SubjectKey(context.Background(), "alice", nil); !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: err = %v, want ErrClosed", err)
		}

		k2 := mustOpen(t, opts(st, s))
		defer k2.Close()
		if got, err := openField(k2, "alice", env); err != nil || got != "alice@example.com" {
			t.Fatalf("after reopen: %q, %v", got, err)
		}
		if !bytes.Equal(k2.SubjectRef("alice"), ref) {
			t.Error("SubjectRef changed across reopen")
		}
		if a, err := k2.SubjectKeyByRef(context.Background(), ref, 1, ""); err != nil || a == nil {
			t.Errorf("SubjectKeyByRef: %v", err)
		}
		if _, err := k2.SubjectKeyByRef(context.Background(), ref[:5], 1, ""); err == nil {
			t.Error("SubjectKeyByRef with a short ref: no error")
		}
		if _, err := k2.SubjectKeyByRef(context.Background(), k2.SubjectRef("nobody"), 1, ""); !errors.Is(err, ErrNoSubjectKey) {
			t.Errorf("SubjectKeyByRef of a subject without key: err = %v", err)
		}
		if bi2, _ := k2.BlindIndex(1, "customers", "email", "alice@example.com"); !bytes.Equal(bi, bi2) {
			t.Error("BlindIndex changed across reopen")
		}
		if !samePub(t, s, pub, k2.AuditPublicKey()) {
			t.Error("audit public key changed across reopen")
		}
		// SubjectKey finds the stored key: it adds only the Expect that
		// the key is still live.
		var b store.Batch
		sk2, err := k2.SubjectKey(context.Background(), "alice", &b)
		if err != nil || b.Len() != 1 || b.Ops()[0].Kind != store.OpExpect || sk2.Version != 1 {
			t.Fatalf("SubjectKey after reopen: %v, %d ops, v%d", err, b.Len(), sk2.Version)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		mustOpen(t, opts(st, s)).Close()

		o := opts(st, s)
		o.Secret = []byte("wrong")
		if _, err := Open(ctx, o); err != ErrWrongSecret {
			t.Errorf("wrong secret: err = %v, want ErrWrongSecret", err)
		}
		o.Secret = nil
		if _, err := Open(ctx, o); err != ErrSealed {
			t.Errorf("no secret: err = %v, want ErrSealed", err)
		}
		o = opts(st, s)
		o.Region = "cn-north"
		if _, err := Open(ctx, o); !errors.Is(err, ErrRegionMismatch) {
			t.Errorf("other region: err = %v, want ErrRegionMismatch", err)
		}
		o = opts(st, s)
		if s.ID() == suite.CN {
			o.Suite = suite.IntlSuite()
		} else {
			o.Suite = suite.CNSuite()
		}
		if _, err := Open(ctx, o); !errors.Is(err, ErrRegionMismatch) {
			t.Errorf("other suite: err = %v, want ErrRegionMismatch", err)
		}
		o = opts(st, s)
		o.Region = ""
		if _, err := Open(ctx, o); err == nil {
			t.Error("empty region: no error")
		}
		o = opts(nil, s)
		if _, err := Open(ctx, o); err == nil {
			t.Error("nil store: no error")
		}
		o = opts(memstore.New(), s)
		o.KDF = KDFParams{Time: 1, MemoryKiB: 1, Threads: 1}
		if _, err := Open(ctx, o); err == nil {
			t.Error("bad KDF params: no error")
		}
	})
}

// TestTamperMeta changes the stored KDF parameters: the root key must then
// fail to unseal even with the right secret, because k/meta is bound to it.
func TestTamperMeta(t *testing.T) {
	st := memstore.New()
	s := suite.IntlSuite()
	mustOpen(t, opts(st, s)).Close()
	raw, _ := st.Get(context.Background(), []byte(keyMeta))
	m, err := decodeMeta(raw)
	if err != nil {
		t.Fatal(err)
	}
	m.KDF.MemoryKiB = 72
	st.Set([]byte(keyMeta), m.encode())
	if _, err := Open(context.Background(), opts(st, s)); err != ErrWrongSecret {
		t.Errorf("tampered meta: err = %v, want ErrWrongSecret", err)
	}
}

// TestSwapSealedKeys swaps two sealed KEK records and two wrapped DEKs: the
// bindings make both fail.
func TestSwapSealedKeys(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	s := suite.CNSuite()
	k := mustOpen(t, opts(st, s))
	a, b := subjectKey(t, k, st, "alice"), subjectKey(t, k, st, "bob")
	env := sealField(t, a, s, "x")
	k.Close()

	ka, kb := string(dekKey([]byte(a.ref), 1)), string(dekKey([]byte(b.ref), 1))
	va, _ := st.Get(ctx, []byte(ka))
	vb, _ := st.Get(ctx, []byte(kb))
	st.Set([]byte(ka), vb)
	st.Set([]byte(kb), va)
	k2 := mustOpen(t, opts(st, s))
	if _, err := openField(k2, "alice", env); !errors.Is(err, suite.ErrOpen) {
		t.Errorf("swapped DEKs: err = %v, want suite.ErrOpen", err)
	}
	k2.Close()

	ki, kt := string(kekKey(Index, 1)), string(kekKey(Token, 1))
	vi, _ := st.Get(ctx, []byte(ki))
	vt, _ := st.Get(ctx, []byte(kt))
	st.Set([]byte(ki), vt)
	st.Set([]byte(kt), vi)
	if _, err := Open(ctx, opts(st, s)); !errors.Is(err, suite.ErrOpen) {
		t.Errorf("swapped KEKs: err = %v, want suite.ErrOpen", err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		const n = 4
		ks := make([]*Keyring, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { ks[i], errs[i] = Open(ctx, opts(st, s)) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Open %d: %v", i, errs[i])
			}
			if !bytes.Equal(ks[i].SubjectRef("x"), ks[0].SubjectRef("x")) {
				t.Fatalf("Open %d has another keyring", i)
			}
			defer ks[i].Close()
		}
	})
}

// TestConcurrentSubjectKey races many goroutines, each with its own keyring
// half the time, to create one subject's key through the real commit path.
func TestConcurrentSubjectKey(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		k1 := mustOpen(t, opts(st, s))
		defer k1.Close()
		k2 := mustOpen(t, opts(st, s))
		defer k2.Close()
		const n = 32
		keys := make([]*SubjectKey, n)
		var wg sync.WaitGroup
		for i := range n {
			k := k1
			if i%2 == 1 {
				k = k2
			}
			wg.Go(func() {
				ctx := context.Background()
				for {
					var b store.Batch
					sk, err := k.SubjectKey(ctx, "carol", &b)
					if err != nil {
						t.Error(err)
						return
					}
					b.Put(fmt.Appendf(nil, "r/%d", i), []byte("record"))
					err = st.Apply(ctx, &b)
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					k.Commit(sk)
					keys[i] = sk
					return
				}
			})
		}
		wg.Wait()
		for i := range n {
			if keys[i] == nil || !bytes.Equal(keys[i].dek, keys[0].dek) || keys[i].Version != 1 {
				t.Fatalf("goroutine %d ended with another key", i)
			}
		}
		if c, _ := st.Counter(context.Background(), dekCounter(1)); c != 1 {
			t.Errorf("DEK counter = %d, want 1", c)
		}
	})
}

func TestDestroy(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		sk := subjectKey(t, k, st, "dave")
		env := sealField(t, sk, s, "dave@example.com")
		subjectKey(t, k, st, "erin")
		if _, err := openField(k, "dave", env); err != nil {
			t.Fatal(err)
		}
		var b store.Batch
		done, err := k.DestroySubjectKey(ctx, "dave", &b)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		done()
		if _, err := openField(k, "dave", env); !errors.Is(err, ErrNoSubjectKey) {
			t.Fatalf("after destroy: err = %v, want ErrNoSubjectKey", err)
		}
		k.Close()
		k = mustOpen(t, opts(st, s))
		defer k.Close()
		if _, err := openField(k, "dave", env); !errors.Is(err, ErrNoSubjectKey) {
			t.Fatalf("after destroy and reopen: err = %v, want ErrNoSubjectKey", err)
		}
		// The subject comes back: a new generation, unrelated to the old.
		sk2 := subjectKey(t, k, st, "dave")
		if sk2.Version != 2 || bytes.Equal(sk2.dek, sk.dek) {
			t.Fatalf("re-created key: version %d, same bytes %v", sk2.Version, bytes.Equal(sk2.dek, sk.dek))
		}
		if _, err := openField(k, "dave", env); !errors.Is(err, ErrNoSubjectKey) {
			t.Fatalf("old generation after re-creation: err = %v", err)
		}
		// A subject with no key: destroying it blocks a concurrent creation.
		var create, destroy store.Batch
		if _, err := k.SubjectKey(ctx, "frank", &create); err != nil {
			t.Fatal(err)
		}
		if _, err := k.DestroySubjectKey(ctx, "frank", &destroy); err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, &destroy); err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, &create); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("creation racing an erasure: err = %v, want ErrConflict", err)
		}
		if c, _ := st.Counter(ctx, dekCounter(1)); c != 2 {
			t.Errorf("DEK counter = %d, want 2 (erin, dave v2)", c)
		}
	})
}

func TestRotateAndRewrap(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		k.rewrapPage = 7
		const n = 50
		envs := make([][]byte, n)
		for i := range n {
			envs[i] = sealField(t, subjectKey(t, k, st, fmt.Sprint("s", i)), s, fmt.Sprint("value", i))
		}
		v, err := k.Rotate(ctx, Data)
		if err != nil || v != 2 || k.CurrentVersion(Data) != 2 {
			t.Fatalf("Rotate = %d, %v", v, err)
		}
		newKey := subjectKey(t, k, st, "new")
		if got := storedKEKVersion(t, st, newKey); got != 2 {
			t.Errorf("new DEK wrapped under data v%d, want v2", got)
		}
		if err := k.Retire(ctx, Data, 1); !errors.Is(err, ErrInUse) {
			t.Errorf("Retire data v1 with DEKs under it: err = %v, want ErrInUse", err)
		}

		// A second keyring (another process) sees v2 lazily.
		k2 := mustOpen(t, opts(st, s))
		defer k2.Close()

		cctx, cancel := context.WithCancel(ctx)
		var last int
		done, err := k.Rewrap(cctx, func(done, total int) {
			last = done
			if total != n {
				t.Errorf("total = %d, want %d", total, n)
			}
			if done >= n/2 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || done == 0 || done >= n || done != last {
			t.Fatalf("interrupted Rewrap = %d, %v", done, err)
		}
		done2, err := k.Rewrap(ctx, nil)
		if err != nil || done+done2 != n {
			t.Fatalf("resumed Rewrap = %d (+%d), %v", done2, done, err)
		}
		if again, err := k.Rewrap(ctx, nil); err != nil || again != 0 {
			t.Fatalf("third Rewrap = %d, %v", again, err)
		}
		if c, _ := k.countDEKs(ctx, func(v uint32) bool { return v != 2 }); c != 0 {
			t.Fatalf("%d DEKs not under v2", c)
		}
		for i := range n {
			if got, err := openField(k2, fmt.Sprint("s", i), envs[i]); err != nil || got != fmt.Sprint("value", i) {
				t.Fatalf("value %d after rewrap: %q, %v", i, got, err)
			}
		}
		stt, err := k.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		data := stt.Purposes[0]
		if data.Purpose != Data || data.Current != 2 || len(data.Versions) != 2 ||
			data.Versions[0].DEKs != 0 || data.Versions[1].DEKs != n+1 || stt.SubjectKeys != n+1 {
			t.Fatalf("data status = %+v", data)
		}
		if err := k.Retire(ctx, Data, 1); err != nil {
			t.Fatalf("Retire data v1 after rewrap: %v", err)
		}
		if err := k.Retire(ctx, Data, 2); !errors.Is(err, ErrInUse) {
			t.Errorf("Retire current: err = %v, want ErrInUse", err)
		}
		stt, _ = k2.Status(ctx)
		if vs := stt.Purposes[0].Versions; vs[0].State != Retired || vs[0].Retired.IsZero() || vs[1].State != Active {
			t.Errorf("status after retire = %+v", vs)
		}
	})
}

func samePub(t *testing.T, s suite.Suite, a, b crypto.PublicKey) bool {
	t.Helper()
	da, err := s.Signature().MarshalPublicKey(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := s.Signature().MarshalPublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}

func storedKEKVersion(t *testing.T, st *memstore.Store, sk *SubjectKey) uint32 {
	t.Helper()
	env, err := st.Get(context.Background(), dekKey([]byte(sk.ref), sk.Version))
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := envelope.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	return h.KeyVersion
}

// TestRewrapSkipsErased erases a subject between Rewrap's read and its
// write: the DEK must stay erased.
func TestRewrapSkipsErased(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	s := suite.IntlSuite()
	k := mustOpen(t, opts(st, s))
	defer k.Close()
	for i := range 3 {
		subjectKey(t, k, st, fmt.Sprint("s", i))
	}
	if _, err := k.Rotate(ctx, Data); err != nil {
		t.Fatal(err)
	}
	var erase store.Batch
	done, err := k.DestroySubjectKey(ctx, "s1", &erase)
	if err != nil {
		t.Fatal(err)
	}
	st.SetFailApply(func(b *store.Batch) error {
		st.SetFailApply(nil)
		if err := st.Apply(ctx, &erase); err != nil {
			t.Error(err)
		}
		return nil
	})
	n, err := k.Rewrap(ctx, nil)
	done()
	if err != nil || n != 2 {
		t.Fatalf("Rewrap = %d, %v; want 2", n, err)
	}
	if _, err := k.ExistingSubjectKey(ctx, "s1", 1, ""); !errors.Is(err, ErrNoSubjectKey) {
		t.Fatalf("erased subject after rewrap: err = %v", err)
	}
}

func TestRotateFailure(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		sk := subjectKey(t, k, st, "gina")
		env := sealField(t, sk, s, "g")
		st.SetFailApply(func(*store.Batch) error { return errors.New("disk full") })
		for _, p := range purposes {
			if _, err := k.Rotate(ctx, p); err == nil {
				t.Fatalf("Rotate %s with failing store: no error", p)
			}
			if k.CurrentVersion(p) != 1 {
				t.Fatalf("%s current = %d after failed rotation", p, k.CurrentVersion(p))
			}
		}
		st.SetFailApply(nil)
		if got, err := openField(k, "gina", env); err != nil || got != "g" {
			t.Fatalf("after failed rotation: %q, %v", got, err)
		}
		if got := storedKEKVersion(t, st, subjectKey(t, k, st, "hank")); got != 1 {
			t.Errorf("new DEK under v%d after failed rotation", got)
		}
		if _, err := k.BlindIndex(1, "c", "f", "v"); err != nil {
			t.Error(err)
		}
		if _, err := k.BlindIndex(2, "c", "f", "v"); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("BlindIndex v2: err = %v", err)
		}
		if v, err := k.Rotate(ctx, Data); err != nil || v != 2 {
			t.Fatalf("Rotate after recovery = %d, %v", v, err)
		}
	})
}

// TestNoKeyMaterialInStore scans every byte the store holds for the secret
// and every key in clear.
func TestNoKeyMaterialInStore(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		o := opts(st, s)
		k := mustOpen(t, o)
		defer k.Close()
		var secrets [][]byte
		for i := range 20 {
			sk := subjectKey(t, k, st, fmt.Sprint("subject-", i))
			secrets = append(secrets, sk.dek)
		}
		for _, p := range purposes {
			if _, err := k.Rotate(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := k.Rewrap(ctx, nil); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, o.Secret, k.root, k.refKey)
		for _, vs := range k.ring.Load().keks {
			for _, kk := range vs {
				secrets = append(secrets, kk.rec.secret, kk.index, kk.ref)
				if kk.rec.signer != nil {
					secrets = append(secrets, kk.rec.signer)
				}
			}
		}
		raw := st.Raw()
		for i, sec := range secrets {
			if len(sec) == 0 {
				continue
			}
			if bytes.Contains(raw, sec) || bytes.Contains(raw, sec[:8]) && len(sec) > 8 && bytes.Contains(raw, sec[len(sec)-8:]) {
				t.Errorf("secret %d found in the store's bytes", i)
			}
		}
		if bytes.Contains(raw, []byte("subject-1")) {
			t.Error("a subject id is in the store")
		}
	})
}

func TestBlindIndex(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	s := suite.CNSuite()
	k := mustOpen(t, opts(st, s))
	defer k.Close()
	bi := func(v uint32, c, f, n string) string {
		t.Helper()
		b, err := k.BlindIndex(v, c, f, n)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := bi(1, "customers", "email", "a@b.c")
	if bi(1, "customers", "email", "a@b.c") != base {
		t.Error("not deterministic")
	}
	for name, other := range map[string]string{
		"field":      bi(1, "customers", "phone", "a@b.c"),
		"collection": bi(1, "employees", "email", "a@b.c"),
		"value":      bi(1, "customers", "email", "a@b.d"),
		"boundary":   bi(1, "customersemail", "", "a@b.c"),
		"ref":        string(k.SubjectRef("a@b.c")),
	} {
		if other == base {
			t.Errorf("%s change gives the same index", name)
		}
	}
	v2, err := k.Rotate(ctx, Index)
	if err != nil {
		t.Fatal(err)
	}
	if bi(v2, "customers", "email", "a@b.c") == base {
		t.Error("version change gives the same index")
	}
	if got := k.IndexVersions(); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Errorf("IndexVersions = %v, want [2 1]", got)
	}
	ref := k.SubjectRef("alice")
	if err := k.Retire(ctx, Index, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.BlindIndex(1, "customers", "email", "a@b.c"); !errors.Is(err, ErrRetired) {
		t.Errorf("retired version: err = %v, want ErrRetired", err)
	}
	if got := k.IndexVersions(); len(got) != 1 || got[0] != 2 {
		t.Errorf("IndexVersions = %v, want [2]", got)
	}
	if !bytes.Equal(k.SubjectRef("alice"), ref) {
		t.Error("SubjectRef changed when index v1 retired")
	}
	k.Close()
	k = mustOpen(t, opts(st, s))
	if bi(2, "customers", "email", "a@b.c") == base {
		t.Error("reopened: v2 equals v1")
	}
	if _, err := k.BlindIndex(1, "customers", "email", "a@b.c"); !errors.Is(err, ErrRetired) {
		t.Errorf("reopened, retired version: err = %v, want ErrRetired", err)
	}
	// Active answers what BlindIndex and DeriveKey would, without deriving.
	for _, c := range []struct {
		v    uint32
		want error
	}{{2, nil}, {1, ErrRetired}, {3, ErrUnknownVersion}} {
		if err := k.Active(Index, c.v); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("Active(index, %d) = %v, want %v", c.v, err, c.want)
		}
	}
	k.Close()
	if err := k.Active(Index, 2); !errors.Is(err, ErrClosed) {
		t.Errorf("Active after Close = %v, want ErrClosed", err)
	}
}

func TestAuditAndDerive(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		signer, err := k.AuditSigner()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Signature().Sign(rand.Reader, signer, []byte("checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Signature().Verify(k.AuditPublicKey(), []byte("checkpoint"), sig); err != nil {
			t.Fatal(err)
		}
		old := k.AuditPublicKey()
		if _, err := k.Rotate(ctx, Audit); err != nil {
			t.Fatal(err)
		}
		if samePub(t, s, old, k.AuditPublicKey()) {
			t.Error("audit rotation kept the key")
		}
		t1, err := k.DeriveKey(Token, 1, "ff1", 32)
		if err != nil {
			t.Fatal(err)
		}
		t2, _ := k.DeriveKey(Token, 1, "ff1", 32)
		t3, _ := k.DeriveKey(Token, 1, "other", 32)
		if !bytes.Equal(t1, t2) || bytes.Equal(t1, t3) {
			t.Error("DeriveKey is not deterministic per label")
		}
		if _, err := k.DeriveKey(Data, 1, "x", 32); err == nil {
			t.Error("DeriveKey from data: no error")
		}
	})
}

func TestErrorsHoldNoSubject(t *testing.T) {
	st := memstore.New()
	k := mustOpen(t, opts(st, suite.IntlSuite()))
	defer k.Close()
	_, err := k.ExistingSubjectKey(context.Background(), "zelda@example.com", 1, "")
	if !errors.Is(err, ErrNoSubjectKey) || bytes.Contains([]byte(err.Error()), []byte("zelda")) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add((&meta{Region: "eu-central", Suite: "intl", KDF: defaultKDF(), Salt: make([]byte, 16)}).encode())
	f.Add((&meta{Region: "cn-north", Suite: "cn", KDF: tinyKDF, Salt: make([]byte, 64)}).encode())
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeMeta(in)
		if err != nil {
			if !errors.Is(err, errMalformedMeta) {
				t.Fatalf("error %v does not wrap errMalformedMeta", err)
			}
			return
		}
		if got := m.encode(); !bytes.Equal(got, in) {
			t.Fatalf("encode(decode(x)) = %x, want %x", got, in)
		}
		if err := m.KDF.validate(); err != nil {
			t.Fatalf("decoded invalid params: %v", err)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add((&kekRecord{state: Active, secret: make([]byte, 32)}).encode())
	f.Add((&kekRecord{state: Retired, secret: make([]byte, 16), signer: []byte("der")}).encode())
	f.Add((&kekRecord{state: Active, secret: make([]byte, 16), suite: suite.CN}).encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeRecord(in)
		if err != nil {
			return
		}
		if got := r.encode(); !bytes.Equal(got, in) {
			t.Fatalf("encode(decode(x)) = %x, want %x", got, in)
		}
	})
}

func TestStatusClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := opts(memstore.New(), suite.IntlSuite())
	o.Now = func() time.Time { return now }
	k := mustOpen(t, o)
	defer k.Close()
	st, err := k.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Purposes) != 4 || st.Region != "eu-central" || st.Suite != "intl" {
		t.Fatalf("status = %+v", st)
	}
	for _, p := range st.Purposes {
		if p.Current != 1 || len(p.Versions) != 1 || !p.Versions[0].Created.Equal(now) || p.Versions[0].State != Active {
			t.Errorf("%s: %+v", p.Purpose, p)
		}
	}
}

// TestFirstEntries checks the generation-1 shortcut against the full scan
// through a subject's life: unknown, live, erased (with and without a key),
// and live again in a later generation.
func TestFirstEntries(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		check := func(step, subject string) {
			t.Helper()
			ref := k.SubjectRef(subject)
			got, err := k.firstEntries(ctx, ref)
			if err != nil {
				t.Fatalf("%s: firstEntries: %v", step, err)
			}
			want, err := k.entries(ctx, ref)
			if err != nil {
				t.Fatalf("%s: entries: %v", step, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: firstEntries has %d generations, the scan %d", step, len(got), len(want))
			}
			for i := range got {
				if got[i].gen != want[i].gen || got[i].dead != want[i].dead || !bytes.Equal(got[i].env, want[i].env) {
					t.Fatalf("%s: generation %d differs: %+v, scan %+v", step, i, got[i], want[i])
				}
			}
		}
		destroy := func(subject string) {
			t.Helper()
			var b store.Batch
			done, err := k.DestroySubjectKey(ctx, subject, &b)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
			done()
		}
		check("unknown", "ann")
		subjectKey(t, k, st, "ann")
		check("live", "ann")
		destroy("ann")
		check("erased", "ann")
		if sk := subjectKey(t, k, st, "ann"); sk.Version != 2 {
			t.Fatalf("key after erasure is generation %d, want 2", sk.Version)
		}
		check("live again", "ann")
		destroy("bob") // never had a key
		check("erased without a key", "bob")
		if sk := subjectKey(t, k, st, "bob"); sk.Version != 2 {
			t.Fatalf("bob's first key is generation %d, want 2", sk.Version)
		}
	})
}

// TestRotateWith checks that apply's own writes commit with the new key,
// and that a failing apply leaves no new version.
func TestRotateWith(t *testing.T) {
	forSuites(t, func(t *testing.T, s suite.Suite, st *memstore.Store) {
		ctx := context.Background()
		k := mustOpen(t, opts(st, s))
		defer k.Close()
		refused := errors.New("the audit log is full")
		if _, err := k.RotateWith(ctx, Data, func(b *store.Batch, nv NewVersion) error {
			b.Put([]byte("with/refused"), []byte{byte(nv.Version)})
			return refused
		}); !errors.Is(err, refused) {
			t.Fatalf("RotateWith with a failing apply: %v, want its error", err)
		}
		if _, err := st.Get(ctx, kekKey(Data, 2)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("data v2 stored although apply failed: %v", err)
		}
		if _, err := st.Get(ctx, []byte("with/refused")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("apply's write stored although it failed: %v", err)
		}
		if got := k.CurrentVersion(Data); got != 1 {
			t.Fatalf("current data version after a refused rotation = %d, want 1", got)
		}
		v, err := k.RotateWith(ctx, Data, func(b *store.Batch, nv NewVersion) error {
			b.Put([]byte("with/ok"), []byte{byte(nv.Version)})
			return st.Apply(ctx, b)
		})
		if err != nil || v != 2 {
			t.Fatalf("RotateWith = %d, %v; want 2", v, err)
		}
		if got, err := st.Get(ctx, []byte("with/ok")); err != nil || !bytes.Equal(got, []byte{2}) {
			t.Fatalf("apply's write after the rotation = %v, %v; want [2]", got, err)
		}
		if _, err := st.Get(ctx, kekKey(Data, 2)); err != nil {
			t.Fatalf("data v2 not stored: %v", err)
		}
	})
}
