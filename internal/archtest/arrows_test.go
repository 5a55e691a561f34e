package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/domicile/domicile"

// Patterns name packages: "internal/vault" is that package of the module,
// "internal/audit/..." that package and every package below it, "..."
// every package of the module; a pattern whose first element has a dot
// ("github.com/jackc/pgx/...") or that is not under internal/, cmd/,
// client or examples ("net/http") names a package outside the module.

// domain are the packages below the region service and the service itself:
// no HTTP, no storage driver, nothing above them.
var domain = []string{
	"internal/suite/...", "internal/envelope/...", "internal/keyring/...", "internal/policy/...",
	"internal/store", "internal/store/memstore/...", "internal/store/storetest/...",
	"internal/tokens/...", "internal/token/...", "internal/audit/...", "internal/vault/...",
	"internal/access/...", "internal/guard/...", "internal/transfer/...", "internal/signed/...", "internal/subjects/...", "internal/backup/...", "internal/unseal/...", "internal/normalize/...",
	"internal/recordfmt/...", "internal/errcode/...", "internal/paging/...", "internal/region/...",
	"internal/residency/...", "internal/recid/...", "internal/seed/...",
}

// httpAdapters are the small domain-side adapters that speak HTTP.
var httpAdapters = []string{"internal/audit/witnesshttp", "internal/guard/webhook"}

// notYet are package patterns of the map that the module does not have
// yet; every other pattern in a rule must match a package, so that a
// renamed package cannot quietly drop out of its rules.
var notYet = []string{}

// rule is one arrow of the package map, or one arrow that must not exist.
type rule struct {
	name string
	// pkgs are the packages the rule holds for, but for except.
	pkgs, except []string
	// forbid are the packages they must not depend on: through any chain
	// of imports, or with direct, by importing them themselves.
	forbid []string
	direct bool
	why    string
}

var rules = []rule{
	{
		name: "domain-no-http", pkgs: domain, except: httpAdapters,
		forbid: []string{"net/http", "internal/web/..."},
		why:    "domain packages never import net/http; HTTP lives in api, web, gateway, app, cmd, client and small adapters (" + strings.Join(httpAdapters, ", ") + ")",
	},
	{
		name: "domain-no-driver", pkgs: domain,
		forbid: []string{"github.com/cockroachdb/pebble/...", "github.com/jackc/pgx/...", "internal/store/pebble/...", "internal/store/postgres/..."},
		why:    "domain packages work against the store interface (internal/store); only internal/app chooses a backend",
	},
	{
		name: "domain-not-up", pkgs: domain,
		forbid: []string{"internal/api/...", "internal/app/...", "internal/gateway/...", "cmd/..."},
		why:    "arrows point up: domain -> region service -> api -> app -> cmd; nothing below imports what is above it",
	},
	{
		name: "pebble-importer", pkgs: []string{"..."}, except: []string{"internal/store/pebble/..."}, direct: true,
		forbid: []string{"github.com/cockroachdb/pebble/..."},
		why:    "only internal/store/pebble imports Pebble",
	},
	{
		name: "pgx-importer", pkgs: []string{"..."}, except: []string{"internal/store/postgres/..."}, direct: true,
		forbid: []string{"github.com/jackc/pgx/..."},
		why:    "only internal/store/postgres (and its test helper pgtest) imports pgx",
	},
	{
		name: "gmsm-importer", pkgs: []string{"..."}, except: []string{"internal/suite/..."}, direct: true,
		forbid: []string{"github.com/emmansun/gmsm/..."},
		why:    "only internal/suite imports the SM library; everything else is written against the suite",
	},
	{
		name: "driver-importer", pkgs: []string{"..."}, except: []string{"internal/app/..."}, direct: true,
		forbid: []string{"internal/store/pebble", "internal/store/postgres"},
		why:    "only internal/app (wiring) imports the store drivers; tests may too",
	},
	{
		name: "gateway-stateless", pkgs: []string{"internal/gateway/..."},
		forbid: []string{"internal/vault/...", "internal/keyring/...", "internal/audit/...", "internal/tokens", "internal/guard/...",
			"internal/access", "internal/policy/...", "internal/store/...", "internal/suite/...",
			"github.com/emmansun/gmsm/...", "cel.dev/cel-go/..."},
		why: "the gateway is stateless and holds no keys: it links small id/token parsers, a residency resolver and the client, never the region stack",
	},
	{
		name: "console-through-api", pkgs: []string{"internal/console/..."}, direct: true,
		forbid: []string{"internal/vault/...", "internal/keyring/...", "internal/store/...", "internal/region/...", "internal/access/...",
			"internal/guard/...", "internal/transfer/...", "internal/tokens/...", "internal/policy/...", "internal/api/...", "internal/app/...", "internal/gateway/..."},
		why: "the console holds no state and decides nothing: it reads the API through the client (and checks audit proofs with internal/audit's verifier), never the region stack",
	},
	{
		name: "api-thin", pkgs: []string{"internal/api/..."}, direct: true,
		forbid: []string{"internal/keyring/...", "internal/store/...", "internal/seed/...", "internal/audit/tlog/..."},
		why:    "internal/api only decodes, calls the region service and encodes; keys, storage, the log's internals and sample data stay behind the service",
	},
	{
		name: "seed-importer", pkgs: []string{"..."}, except: []string{"internal/app/...", "cmd/...", "internal/seed/..."}, direct: true,
		forbid: []string{"internal/seed/..."},
		why:    "internal/seed is the sample data of 'domicile dev': only internal/app and cmd (and tests) use it; production decoys come from internal/guard/decoys",
	},
	{
		name: "api-importer", pkgs: []string{"..."}, except: []string{"internal/api/...", "internal/app/...", "cmd/..."},
		forbid: []string{"internal/api/..."},
		why:    "nothing below imports api: api -> app -> cmd, and the gateway is api's sibling, not its user",
	},
	{
		name: "loadgen-bench-only", pkgs: []string{"..."}, except: []string{"internal/loadgen/...", "cmd/domicile-load/..."},
		forbid: []string{"internal/loadgen/..."},
		why:    "internal/loadgen is the benchmark load generator (cmd/domicile-load); the product never links it",
	},
	{
		name: "app-importer", pkgs: []string{"..."}, except: []string{"internal/app/...", "cmd/..."},
		forbid: []string{"internal/app/...", "cmd/..."},
		why:    "nothing below imports app or cmd: they are the top of the map",
	},
}

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// TestArrows checks every arrow of the package map against the module's
// non-test imports, as one `go list -deps` sees them.
func TestArrows(t *testing.T) {
	all, own := load(t)
	known := slices.Sorted(maps.Keys(all))
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, pat := range slices.Concat(r.pkgs, r.except, r.forbid) {
				if !slices.Contains(notYet, pat) && !slices.ContainsFunc(known, func(p string) bool { return match(pat, p) }) {
					t.Errorf("pattern %s matches no package the module has or links: update the rule", pat)
				}
			}
			for _, p := range own {
				if !matchAny(r.pkgs, p) || matchAny(r.except, p) {
					continue
				}
				deps := all[p].Deps
				if r.direct {
					deps = all[p].Imports
				}
				for _, d := range deps {
					if matchAny(r.forbid, d) {
						t.Errorf("%s -> %s (%s): %s", rel(p), rel(d), chain(all, p, d), r.why)
					}
				}
			}
		})
	}
}

// load lists the module's packages and all their dependencies.
func load(t *testing.T) (all map[string]*pkg, own []string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command(goBin, "list", "-e", "-deps", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	all = map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		all[p.ImportPath] = p
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		if p.Error != nil {
			t.Fatalf("%s does not load, so its arrows cannot be checked: %s", p.ImportPath, p.Error.Err)
		}
		own = append(own, p.ImportPath)
	}
	slices.Sort(own)
	return all, own
}

// match reports whether the import path p is named by pattern.
func match(pattern, p string) bool {
	if pattern == "..." {
		return p == module || strings.HasPrefix(p, module+"/")
	}
	base, tree := strings.CutSuffix(pattern, "/...")
	base = abs(base)
	return p == base || tree && strings.HasPrefix(p, base+"/")
}

func matchAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, p) })
}

// abs turns a module-relative path into an import path.
func abs(p string) string {
	first, _, _ := strings.Cut(p, "/")
	switch first {
	case "internal", "cmd", "client", "examples":
		return module + "/" + p
	}
	return p
}

// rel shortens the module's import paths for messages.
func rel(p string) string {
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}

// chain returns a shortest chain of imports from p to d, written
// "p -> ... -> d".
func chain(all map[string]*pkg, p, d string) string {
	prev := map[string]string{p: ""}
	queue := []string{p}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == d {
			var path []string
			for x := d; x != ""; x = prev[x] {
				path = append(path, rel(x))
			}
			slices.Reverse(path)
			return strings.Join(path, " -> ")
		}
		if all[cur] == nil {
			continue
		}
		for _, next := range all[cur].Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return "no chain found"
}
