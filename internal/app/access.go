package app

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/audit/witnesshttp"
	"github.com/domicile/domicile/internal/guard"
	"github.com/domicile/domicile/internal/guard/webhook"
	"github.com/domicile/domicile/internal/keyring"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/store"
)

// accessFor builds a region's principal directory, access engine and
// masker, with MAC keys derived from the region's keyring: token MACs and
// mask digests are meaningful only inside the region.
func accessFor(pol *policy.Policy, kr *keyring.Keyring, st store.Store) (*access.Directory, *access.Engine, access.Masker, error) {
	engine, err := access.New(pol)
	if err != nil {
		return nil, nil, access.Masker{}, err
	}
	mac := kr.Origin().MAC() // the keys are index version 1's, of the origin suite
	tokenKey, err := kr.DeriveKey(keyring.Index, 1, "api token authentication", 32)
	if err != nil {
		return nil, nil, access.Masker{}, fmt.Errorf("token key: %w", err)
	}
	maskKey, err := kr.DeriveKey(keyring.Index, 1, "mask digest", 32)
	if err != nil {
		return nil, nil, access.Masker{}, fmt.Errorf("mask key: %w", err)
	}
	dir := access.NewDirectory(st, pol, func() hash.Hash { return mac.New(tokenKey) }, nil)
	return dir, engine, access.Masker{NewMAC: func() hash.Hash { return mac.New(maskKey) }}, nil
}

// Bootstrap is a principal that dev mode (or serve) makes sure exists in
// every region with a known token.
type Bootstrap struct {
	Account access.Account
	Token   string
}

// EnsurePrincipals creates (or re-tokens) the bootstrap principals in every
// serving region.
func EnsurePrincipals(ctx context.Context, regions []*Region, ps []Bootstrap) error {
	for _, r := range regions {
		if r.Directory == nil {
			continue // sealed
		}
		for _, p := range ps {
			if _, err := r.Directory.Ensure(ctx, p.Account, p.Token); err != nil {
				return fmt.Errorf("region %s: principal %s: %w", r.Name, p.Account.ID, err)
			}
		}
	}
	return nil
}

// devPrincipals are the principals dev mode creates for the tour, each
// with a token file in DATA/tokens: the administrator (located where
// --admin-location says), and support agents in the US and in China, so
// that masked and clear reads can be compared side by side.
func devPrincipals(dir, adminLocation string) ([]Bootstrap, error) {
	defs := []access.Account{
		{ID: "admin", Kind: "person", Roles: []string{"admin"}, Location: adminLocation},
		{ID: "support-us", Kind: "person", Roles: []string{"support"}, Location: "US"},
		{ID: "support-cn", Kind: "person", Roles: []string{"support"}, Location: "CN"},
	}
	var out []Bootstrap
	for _, a := range defs {
		path := filepath.Join(dir, "tokens", a.ID+".token")
		if a.ID == "admin" {
			path = filepath.Join(dir, "admin.token")
		}
		tok, err := readOrCreateToken(path)
		if err != nil {
			return nil, err
		}
		out = append(out, Bootstrap{Account: a, Token: tok})
	}
	return out, nil
}

func readOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	tok := access.NewToken()
	if err := writeSecretFile(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return tok, nil
}

// guardFor builds a region's breach detector: its digests keyed by a key
// derived from the region's keyring, locks through the directory, alerts
// to the log and the policy's webhooks.
func guardFor(ctx context.Context, c RegionConfig, kr *keyring.Keyring, st store.Store, dir *access.Directory, alog *audit.Log, log *slog.Logger) (*guard.Guard, *webhook.Sender, error) {
	key, err := kr.DeriveKey(keyring.Index, 1, "guard", 32)
	if err != nil {
		return nil, nil, err
	}
	mac := kr.Origin().MAC()      // the key is index version 1's, of the origin suite
	series := seriesOf(c.Metrics) // metrics.go
	var hooks *webhook.Sender
	if len(c.Policy.Guard.Webhooks) > 0 {
		hooks = webhook.New(webhook.Options{Hooks: c.Policy.Guard.Webhooks, Logger: log})
	}
	g, err := guard.New(ctx, guard.Options{
		Store:  st,
		Policy: c.Policy,
		Region: c.Name,
		Now:    c.Now,
		MAC:    func() hash.Hash { return mac.New(key) },
		Locker: guard.LockerFunc(func(ctx context.Context, id string) error {
			_, err := dir.SetState(ctx, id, access.Locked)
			if err == nil {
				series.locked(c.Name)
			}
			return err
		}),
		OnAlert: func(a guard.Alert) {
			series.alert(c.Name, a)
			log.Warn("guard alert", "alert", a.ID, "rule", a.Rule, "severity", a.Severity, "principal", a.Principal, "response", a.Response)
			// Alerts are audit entries too.
			ae := entry.Entry{Action: entry.Admin, Principal: a.Principal, Decision: "alert-" + a.Severity, Rule: a.Rule, Outcome: entry.OK}
			if len(a.RequestIDs) > 0 {
				ae.RequestID = a.RequestIDs[0] // the request that raised it
			}
			if err := alog.AppendNow(context.Background(), ae); err != nil {
				log.Error("audit: alert not recorded", "alert", a.ID, "err", err)
			}
			if hooks != nil {
				hooks.Send(a)
			}
		},
		Logger: log,
	})
	return g, hooks, err
}

// openAudit opens the region's audit log: entries hashed with the hash of
// the suite the log began with (the keyring's origin), checkpoints signed
// with the region's current audit key.
func openAudit(ctx context.Context, c RegionConfig, kr *keyring.Keyring, st store.Store, log *slog.Logger) (*audit.Log, error) {
	o := audit.Options{Store: st, Region: c.Name, Origin: "domicile/" + c.Name, Hash: kr.Origin().Hash(), Signature: kr.Suite().Signature(),
		Signer: kr.AuditSigner, Now: c.Now,
		Logf: func(format string, args ...any) { log.Error("audit: " + fmt.Sprintf(format, args...)) }}
	var ws audit.Witnesses
	if c.WitnessFile != "" {
		if err := os.MkdirAll(filepath.Dir(c.WitnessFile), 0o700); err != nil {
			return nil, err
		}
		ws = append(ws, audit.NewFileWitness(c.WitnessFile))
	}
	if len(c.WitnessURLs) > checkpoint.MaxSignatures-1 {
		return nil, fmt.Errorf("%d witnesses: a checkpoint carries at most %d cosignatures", len(c.WitnessURLs), checkpoint.MaxSignatures-1)
	}
	for _, u := range c.WitnessURLs {
		ws = append(ws, &witnesshttp.Witness{URL: u, Client: &http.Client{Timeout: audit.WitnessTimeout}})
	}
	if len(ws) > 0 {
		o.Witness = ws
	}
	return audit.Open(ctx, o)
}
