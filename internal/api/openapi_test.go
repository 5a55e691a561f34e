package api

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/access"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/entry"
	"github.com/domicile/domicile/internal/errcode"
	"github.com/domicile/domicile/internal/policy"
	"github.com/domicile/domicile/internal/suite"
	"github.com/domicile/domicile/internal/tokens"
	"github.com/domicile/domicile/internal/tokens/tokfmt"
	"github.com/domicile/domicile/internal/vault"
	"github.com/domicile/domicile/internal/web"
)

// The OpenAPI document is written by hand; these tests keep it honest
// against the code: routes, wire types, limits and formats, item error
// codes, tokens, the breach detector and the audit log. internal/web's
// tests check it against the route table and the code -> status table.

// wireTypes are the types of client/types.go, by schema name. The test
// also parses client/types.go so that a new exported type there must be
// added here (and documented).
var wireTypes = map[string]any{
	"NewRecord":           client.NewRecord{},
	"CreateRequest":       client.CreateRequest{},
	"Created":             client.Created{},
	"CreateResponse":      client.CreateResponse{},
	"Record":              client.Record{},
	"PatchRequest":        client.PatchRequest{},
	"Page":                client.Page{},
	"SearchRequest":       client.SearchRequest{},
	"EraseResponse":       client.EraseResponse{},
	"Region":              client.Region{},
	"RegionsResponse":     client.RegionsResponse{},
	"KeyVersion":          client.KeyVersion{},
	"KeyPurpose":          client.KeyPurpose{},
	"KeyStatus":           client.KeyStatus{},
	"RotateRequest":       client.RotateRequest{},
	"RotateResponse":      client.RotateResponse{},
	"Problem":             client.Problem{},
	"Access":              client.Access{},
	"PrincipalRequest":    client.PrincipalRequest{},
	"TokenInfo":           client.TokenInfo{},
	"Principal":           client.Principal{},
	"PrincipalToken":      client.PrincipalToken{},
	"PrincipalsResponse":  client.PrincipalsResponse{},
	"TokenRequest":        client.TokenRequest{},
	"FieldToken":          client.FieldToken{},
	"TokenizeItem":        client.TokenizeItem{},
	"TokenizeRequest":     client.TokenizeRequest{},
	"ItemError":           client.ItemError{},
	"TokenizeResult":      client.TokenizeResult{},
	"TokenizeResponse":    client.TokenizeResponse{},
	"DetokenizeItem":      client.DetokenizeItem{},
	"DetokenizeRequest":   client.DetokenizeRequest{},
	"DetokenizeResult":    client.DetokenizeResult{},
	"DetokenizeResponse":  client.DetokenizeResponse{},
	"Alert":               client.Alert{},
	"AlertsResponse":      client.AlertsResponse{},
	"SeedDecoysRequest":   client.SeedDecoysRequest{},
	"SeedDecoysResponse":  client.SeedDecoysResponse{},
	"AuditEntries":        client.AuditEntries{},
	"AuditRecord":         client.AuditRecord{},
	"AuditRefusal":        client.AuditRefusal{},
	"AuditEntry":          client.AuditEntry{},
	"AuditProof":          client.AuditProof{},
	"AuditKeys":           client.AuditKeys{},
	"ConsentRequest":      client.ConsentRequest{},
	"Consent":             client.Consent{},
	"Consents":            client.Consents{},
	"AuditKey":            client.AuditKey{},
	"TransferReport":      client.TransferReport{},
	"SubjectPackage":      client.SubjectPackage{},
	"PrincipalChange":     client.PrincipalChange{},
	"TransferReportBody":  client.TransferReportBody{},
	"TransferIndividuals": client.TransferIndividuals{},
	"TransferThreshold":   client.TransferThreshold{},
	"TransferCount":       client.TransferCount{},
	"TransferMechanism":   client.TransferMechanism{},
}

type jsonObj = map[string]any

// loadDoc decodes the embedded document, the bytes ServeOpenAPI serves.
func loadDoc(t *testing.T) jsonObj {
	t.Helper()
	rec := httptest.NewRecorder()
	web.ServeOpenAPI(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	dec := json.NewDecoder(rec.Body)
	dec.UseNumber()
	var doc jsonObj
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if dec.More() {
		t.Fatal("openapi.json has data after the document")
	}
	return doc
}

// obj returns m[key] as an object, failing the test if it is not one.
func obj(t *testing.T, m jsonObj, key, where string) jsonObj {
	t.Helper()
	v, ok := m[key].(jsonObj)
	if !ok {
		t.Fatalf("%s: %q is missing or not an object", where, key)
	}
	return v
}

// resolve follows a local $ref ("#/a/b") through the document.
func resolve(doc jsonObj, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(jsonObj)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref returns m, or what it refers to if it is a $ref object.
func deref(t *testing.T, doc jsonObj, m jsonObj) jsonObj {
	t.Helper()
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, ok := resolve(doc, ref)
		if !ok {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		if m, ok = v.(jsonObj); !ok {
			t.Fatalf("$ref %s is not an object", ref)
		}
	}
	t.Fatal("$ref chain too long")
	return nil
}

func TestOpenAPIVersionAndInfo(t *testing.T) {
	doc := loadDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info := obj(t, doc, "info", "document")
	if info["version"] != "1" {
		t.Errorf("info.version = %v, want \"1\"", info["version"])
	}
	if s, _ := info["title"].(string); s == "" {
		t.Error("info.title is empty")
	}
	desc, _ := info["description"].(string)
	for _, want := range []string{"Bearer", "Idempotency-Key", "X-Request-Id", "application/problem+json", "cross_region_batch", "URL",
		web.PurposeHeader, web.RuleHeader, "transfer", "masked", access.TokenPrefix, "Retry-After", "principal_locked", "/v1/principals",
		"/v1/tokenize", "/v1/detokenize", "/v1/alerts", "/v1/regions/{region}/decoys", "/v1/principals/{id}/unlock",
		tokfmt.PrefixRandom, tokfmt.PrefixDeterministic, "`" + policy.TokenFPE + "`", "key_version", "too_many_items",
		"clear_access_required", "ItemErrorCode", "`" + policy.HoneytokenRule + "`", "`" + policy.ResponseSlow + "`",
		"`" + policy.ResponseLock + "`", "region_unavailable",
		// The audit log.
		"/v1/regions/{region}/audit/", "`" + string(errcode.AuditUnavailable) + "`", "RFC 6962", "RFC 9162", "`" + suite.CNSuite().Hash().ID() + "`",
		"`" + suite.IntlSuite().Hash().ID() + "`", "SM2", "ECDSA P-256", "`domicile audit verify`", "/readyz"} {
		if !strings.Contains(desc, want) {
			t.Errorf("info.description does not mention %q", want)
		}
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) == 0 || servers[0].(jsonObj)["url"] != "http://127.0.0.1:8700" {
		t.Errorf("servers = %v, want http://127.0.0.1:8700 first", doc["servers"])
	}
	bearer := obj(t, obj(t, obj(t, doc, "components", "document"), "securitySchemes", "components"), "bearer", "securitySchemes")
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("securitySchemes.bearer = %v, want http bearer", bearer)
	}
}

// routePattern is a mux pattern: "METHOD /path" or "/path".
var routePattern = regexp.MustCompile(`^(?:([A-Z]+) )?(/\S*)$`)

// patternsOf returns the strings a route pattern expression can take: a
// string literal, a sum of such expressions, or the variable of a range
// over a []string literal (the gateway registers the audit routes in a
// loop). ok is false for anything else.
func patternsOf(e ast.Expr, ranges map[string][]string) (out []string, ok bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil, false
		}
		s, err := strconv.Unquote(e.Value)
		return []string{s}, err == nil
	case *ast.ParenExpr:
		return patternsOf(e.X, ranges)
	case *ast.Ident:
		v, ok := ranges[e.Name]
		return v, ok
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil, false
		}
		xs, ok1 := patternsOf(e.X, ranges)
		ys, ok2 := patternsOf(e.Y, ranges)
		if !ok1 || !ok2 {
			return nil, false
		}
		for _, x := range xs {
			for _, y := range ys {
				out = append(out, x+y)
			}
		}
		return out, true
	}
	return nil, false
}

// routesIn returns the routes registered in the non-test Go files of dir,
// as "METHOD /path": every call of a method named Handle or HandleFunc,
// and every route of web.Routes for a call web.Register(mux, web.Routes,
// ...).
// Catch-alls ("/") and the authenticated mount ("/v1/") are not routes of
// the document. A registration whose pattern it cannot read fails the
// test, so that no route escapes the cross-check.
func routesIn(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ranges := map[string][]string{} // range variables over []string literals
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.RangeStmt:
				v, _ := n.Value.(*ast.Ident)
				lit, _ := n.X.(*ast.CompositeLit)
				if v == nil || lit == nil {
					return true
				}
				if at, ok := lit.Type.(*ast.ArrayType); !ok || at.Len != nil || fmt.Sprint(at.Elt) != "string" {
					return true
				}
				var vals []string
				for _, el := range lit.Elts {
					s, ok := patternsOf(el, nil)
					if !ok || len(s) != 1 {
						return true
					}
					vals = append(vals, s[0])
				}
				ranges[v.Name] = vals
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if ok && sel.Sel.Name == "Register" && fmt.Sprint(sel.X) == "web" {
					if len(n.Args) != 3 || fmt.Sprint(n.Args[1]) != "&{web Routes}" {
						t.Errorf("%s: web.Register of routes the test cannot read", fset.Position(n.Pos()))
						return true
					}
					for _, r := range web.Routes {
						out = append(out, r.Method+" "+r.Path)
					}
					return true
				}
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(n.Args) != 2 {
					return true
				}
				pats, ok := patternsOf(n.Args[0], ranges)
				if !ok {
					t.Errorf("%s: a route whose pattern the test cannot read", fset.Position(n.Pos()))
					return true
				}
				for _, p := range pats {
					m := routePattern.FindStringSubmatch(p)
					if m == nil {
						t.Errorf("%s: route pattern %q is not \"METHOD /path\"", fset.Position(n.Pos()), p)
						continue
					}
					method, path := m[1], m[2]
					if method == "" && (path == "/" || path == "/v1/" || path == "/v1") {
						continue
					}
					if method == "" {
						method = "ANY"
					}
					out = append(out, method+" "+path)
				}
			}
			return true
		})
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIRoutes checks that this package's muxes (NewRegion) register
// exactly the routes of web.Routes; internal/web checks the table against
// the document, internal/gateway the gateway against the table.
func TestOpenAPIRoutes(t *testing.T) {
	var want []string
	for _, r := range web.Routes {
		want = append(want, r.Method+" "+r.Path)
	}
	sort.Strings(want)
	if got := routesIn(t, "."); !slices.Equal(got, want) {
		t.Errorf("routes of the regional node (internal/api) differ from web.Routes:\n code:       %q\n web.Routes: %q", got, want)
	}
}

// jsonTag returns the wire name of a struct field and whether encoding/json
// may leave it out (omitempty or omitzero); name is "" for fields not on
// the wire.
func jsonTag(f reflect.StructField) (name string, omitempty bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	// omitzero omits zero values of any type; omitempty has no effect on
	// struct values (a time.Time with omitempty is always written).
	o := strings.Split(opts, ",")
	omit := slices.Contains(o, "omitzero") || slices.Contains(o, "omitempty") && f.Type.Kind() != reflect.Struct
	return name, omit
}

func TestOpenAPIWireTypes(t *testing.T) {
	// Every exported struct type of client/types.go is a wire type.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "client", "types.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, s := range gd.Specs {
			ts := s.(*ast.TypeSpec)
			if _, isStruct := ts.Type.(*ast.StructType); isStruct && ts.Name.IsExported() {
				if _, ok := wireTypes[ts.Name.Name]; !ok {
					t.Errorf("client.%s is not in wireTypes (and perhaps not documented)", ts.Name.Name)
				}
			}
		}
	}

	doc := loadDoc(t)
	schemas := obj(t, obj(t, doc, "components", "document"), "schemas", "components")
	for name, v := range wireTypes {
		typ := reflect.TypeOf(v)
		if typ.Name() != name {
			t.Errorf("wireTypes[%s] is client.%s", name, typ.Name())
		}
		s, ok := schemas[name].(jsonObj)
		if !ok {
			t.Errorf("components.schemas has no %s", name)
			continue
		}
		if s["type"] != "object" {
			t.Errorf("%s: type is %v, want object", name, s["type"])
		}
		props, _ := s["properties"].(jsonObj)
		var required []string
		if r, ok := s["required"].([]any); ok {
			for _, e := range r {
				required = append(required, e.(string))
			}
		}
		tags := map[string]bool{}
		for i := range typ.NumField() {
			fld := typ.Field(i)
			tag, omitempty := jsonTag(fld)
			if tag == "" {
				continue
			}
			tags[tag] = true
			p, ok := props[tag].(jsonObj)
			if !ok {
				t.Errorf("%s: field %s (json %q) is not in the schema's properties", name, fld.Name, tag)
				continue
			}
			// A field that is never left out is always on the wire: required.
			if req := slices.Contains(required, tag); req == omitempty {
				t.Errorf("%s.%s: required is %v, but omitted when empty is %v", name, tag, req, omitempty)
			}
			checkSchemaType(t, doc, name+"."+tag, fld.Type, p)
		}
		for p := range props {
			if !tags[p] {
				t.Errorf("%s: schema property %q is not a json tag of client.%s", name, p, name)
			}
		}
		for _, r := range required {
			if !tags[r] {
				t.Errorf("%s: required %q is not a json tag of client.%s", name, r, name)
			}
		}
	}
}

var timeType = reflect.TypeFor[time.Time]()

// checkSchemaType checks that schema s describes values of Go type typ as
// encoding/json writes them. Named struct types must be $refs to the
// schema of the same name (checked on its own).
func checkSchemaType(t *testing.T, doc jsonObj, where string, typ reflect.Type, s jsonObj) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if ref, ok := s["$ref"].(string); ok {
		if typ.Kind() == reflect.Struct && typ != timeType && ref != "#/components/schemas/"+typ.Name() {
			t.Errorf("%s: $ref %s, want the %s schema", where, ref, typ.Name())
			return
		}
		s = deref(t, doc, s)
	} else if typ.Kind() == reflect.Struct && typ != timeType {
		t.Errorf("%s: inline schema for %s; use a $ref to its schema", where, typ.Name())
		return
	}
	if typ == reflect.TypeFor[json.RawMessage]() {
		// Raw JSON, written as it is: an object here.
		if s["type"] != "object" {
			t.Errorf("%s: type %v, want object (Go json.RawMessage)", where, s["type"])
		}
		return
	}
	if typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8 {
		// encoding/json writes []byte as a base64 string.
		if s["type"] != "string" || s["contentEncoding"] != "base64" {
			t.Errorf("%s: type %v, contentEncoding %v, want a base64 string (Go %s)", where, s["type"], s["contentEncoding"], typ)
		}
		return
	}
	want := ""
	switch typ.Kind() {
	case reflect.String:
		want = "string"
	case reflect.Bool:
		want = "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "integer"
	case reflect.Float32, reflect.Float64:
		want = "number"
	case reflect.Slice, reflect.Array:
		want = "array"
	case reflect.Map:
		want = "object"
	case reflect.Struct:
		if typ == timeType {
			want = "string"
			if s["format"] != "date-time" {
				t.Errorf("%s: time.Time without format date-time", where)
			}
		} else {
			want = "object"
		}
	default:
		t.Errorf("%s: no JSON type for Go kind %s", where, typ.Kind())
		return
	}
	if s["type"] != want {
		t.Errorf("%s: type %v, want %s (Go %s)", where, s["type"], want, typ)
		return
	}
	switch typ.Kind() {
	case reflect.Slice, reflect.Array:
		items, ok := s["items"].(jsonObj)
		if !ok {
			t.Errorf("%s: array without items", where)
			return
		}
		checkSchemaType(t, doc, where+"[]", typ.Elem(), items)
	case reflect.Map:
		if typ.Key().Kind() != reflect.String {
			t.Errorf("%s: map key %s is not a string", where, typ.Key())
		}
		ap, ok := s["additionalProperties"].(jsonObj)
		if !ok {
			t.Errorf("%s: map without an additionalProperties schema", where)
			return
		}
		checkSchemaType(t, doc, where+"{}", typ.Elem(), ap)
	}
}

// TestOpenAPILimits ties the documented limits and formats to the code.
func TestOpenAPILimits(t *testing.T) {
	doc := loadDoc(t)
	comps := obj(t, doc, "components", "document")
	schemas := obj(t, comps, "schemas", "components")
	params := obj(t, comps, "parameters", "components")
	num := func(v any) int {
		n, err := strconv.Atoi(string(v.(json.Number)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	records := obj(t, obj(t, schemas["CreateRequest"].(jsonObj), "properties", "CreateRequest"), "records", "CreateRequest")
	if got := num(records["maxItems"]); got != vault.MaxBatch {
		t.Errorf("CreateRequest.records.maxItems = %d, vault.MaxBatch = %d", got, vault.MaxBatch)
	}
	limit := obj(t, params["Limit"].(jsonObj), "schema", "Limit")
	if got := num(limit["default"]); got != vault.DefaultPageSize {
		t.Errorf("limit default = %d, vault.DefaultPageSize = %d", got, vault.DefaultPageSize)
	}
	slimit := obj(t, obj(t, schemas["SearchRequest"].(jsonObj), "properties", "SearchRequest"), "limit", "SearchRequest")
	if got := num(slimit["default"]); got != vault.DefaultPageSize {
		t.Errorf("SearchRequest.limit default = %d, vault.DefaultPageSize = %d", got, vault.DefaultPageSize)
	}
	subj := obj(t, params["Subject"].(jsonObj), "schema", "Subject")
	if got := num(subj["maxLength"]); got != vault.MaxSubjectLen {
		t.Errorf("subject maxLength = %d, vault.MaxSubjectLen = %d", got, vault.MaxSubjectLen)
	}

	// Token formats: the patterns accept fresh tokens and their ids, and
	// the examples.
	tok := access.NewToken()
	for _, where := range [][2]string{{"PrincipalToken", "token"}, {"PrincipalRequest", "token"}, {"TokenRequest", "token"}, {"TokenInfo", "id"}} {
		p := obj(t, obj(t, schemas[where[0]].(jsonObj), "properties", where[0]), where[1], where[0])
		re, err := regexp.Compile(p["pattern"].(string))
		if err != nil {
			t.Fatalf("%s.%s pattern: %v", where[0], where[1], err)
		}
		want := tok
		if where[1] == "id" {
			want = access.TokenID(tok)
		}
		if !re.MatchString(want) {
			t.Errorf("%s.%s pattern %s does not match %q", where[0], where[1], re, want)
		}
		ex, _ := p["examples"].([]any)
		for _, e := range ex {
			s := e.(string)
			ok := access.WellFormed(s)
			if where[1] == "id" {
				ok = strings.HasPrefix(s, access.TokenPrefix) && len(s) == len(access.TokenID(tok))
			}
			if !ok || !re.MatchString(s) {
				t.Errorf("%s.%s example %q: well formed: %v, pattern matches: %v", where[0], where[1], s, ok, re.MatchString(s))
			}
		}
	}
	for _, bad := range []string{tok[:len(tok)-1], "dmc_" + strings.Repeat("1", 52), strings.ToUpper(tok), "xyz_" + tok[4:]} {
		p := obj(t, obj(t, schemas["PrincipalToken"].(jsonObj), "properties", "PrincipalToken"), "token", "PrincipalToken")
		if access.WellFormed(bad) || regexp.MustCompile(p["pattern"].(string)).MatchString(bad) {
			t.Errorf("token %q: well formed: %v, pattern matches", bad, access.WellFormed(bad))
		}
	}

	// Access.fields: "clear" or "masked:" and one of the policy's masks.
	af := obj(t, obj(t, obj(t, schemas["Access"].(jsonObj), "properties", "Access"), "fields", "Access"), "additionalProperties", "Access.fields")
	fre, err := regexp.Compile(af["pattern"].(string))
	if err != nil {
		t.Fatalf("Access.fields pattern: %v", err)
	}
	for _, m := range policy.Masks {
		if !fre.MatchString("masked:" + m) {
			t.Errorf("Access.fields pattern does not accept mask %s", m)
		}
	}
	if !fre.MatchString(string(policy.AccessClear)) {
		t.Error("Access.fields pattern does not accept clear")
	}
	for _, bad := range []string{string(policy.AccessNone), "masked", "masked:", "masked:nope"} {
		if fre.MatchString(bad) {
			t.Errorf("Access.fields pattern accepts %q", bad)
		}
	}

	// The documented masks and permissions are the policy's.
	desc, _ := obj(t, doc, "info", "document")["description"].(string)
	for _, m := range policy.Masks {
		if !strings.Contains(desc, "`"+m+"`") {
			t.Errorf("info.description does not name mask %s", m)
		}
	}
	for _, p := range policy.Permissions {
		if !strings.Contains(desc, "`"+string(p)+"`") {
			t.Errorf("info.description does not name permission %s", p)
		}
	}

	// The record id pattern accepts exactly the ids vault accepts, on the
	// documented examples.
	id := obj(t, params["RecordId"].(jsonObj), "schema", "RecordId")
	re, err := regexp.Compile(id["pattern"].(string))
	if err != nil {
		t.Fatalf("record id pattern: %v", err)
	}
	examples, _ := id["examples"].([]any)
	if len(examples) == 0 {
		t.Error("record id has no example")
	}
	for _, e := range examples {
		s := e.(string)
		if _, ok := vault.RegionOfID(s); !ok || !re.MatchString(s) {
			t.Errorf("record id example %q: vault accepts it: %v, pattern matches: %v", s, ok, re.MatchString(s))
		}
	}
	for _, bad := range []string{"rec_eu-central_3n4xq7kz2m5vb6wtc2ryhjd4p", "rec_eu_central_3n4xq7kz2m5vb6wtc2ryhjd4pa", "rec__3n4xq7kz2m5vb6wtc2ryhjd4pa", "rec_eu-central_3n4xq7kz2m5vb6wtc2ryhjd4p1"} {
		if _, ok := vault.RegionOfID(bad); ok || re.MatchString(bad) {
			t.Errorf("record id %q: vault accepts it: %v, pattern matches: %v", bad, ok, re.MatchString(bad))
		}
	}
}

// itemCodeLiteral matches item error codes the gateway spells out, and
// itemCodeConst those it names by their errcode constant.
var (
	itemCodeLiteral = regexp.MustCompile(`ItemError\{Code: "([a-z_]+)"`)
	itemCodeConst   = regexp.MustCompile(`itemError\(errcode\.([A-Za-z]+)`)
)

// errcodeConsts returns the codes of package errcode by constant name.
func errcodeConsts(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "errcode", "*.go"))
	out := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a Code constant is not a string literal", name)
					}
					out[vs.Names[i].Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d codes in package errcode", len(out))
	}
	return out
}

// itemErrorCodes returns every code an item of a tokenize or detokenize can
// fail with: the token service's codes (internal/tokens/errors.go, but the
// whole-batch too_many_items), the access decision's, this package's and
// the gateway's.
func itemErrorCodes(t *testing.T) map[string]bool {
	t.Helper()
	codes := map[string]bool{
		access.CodePermissionDenied: true, access.CodeRegionDenied: true, access.CodePurposeUnknown: true,
		access.CodeTransferRequired: true, access.CodeConditionFailed: true,
		string(errcode.ClearAccessRequired): true, string(errcode.UnknownRegion): true, string(errcode.Internal): true,
	}
	consts := errcodeConsts(t)
	// The token service's codes: constants Code... = errcode.X.
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "tokens", "errors.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, v := range vs.Values {
				if !strings.HasPrefix(vs.Names[i].Name, "Code") {
					continue
				}
				sel, ok := v.(*ast.SelectorExpr)
				c, found := "", false
				if ok && fmt.Sprint(sel.X) == "errcode" {
					c, found = consts[sel.Sel.Name]
				}
				if !found {
					t.Fatalf("tokens/errors.go: %s is not an errcode constant", vs.Names[i].Name)
				}
				if c != string(tokens.CodeTooMany) {
					codes[c] = true
					n++
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d codes in tokens/errors.go", n)
	}
	files, _ := filepath.Glob(filepath.Join("..", "gateway", "*.go"))
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range itemCodeLiteral.FindAllStringSubmatch(string(src), -1) {
			codes[m[1]] = true
		}
		for _, m := range itemCodeConst.FindAllStringSubmatch(string(src), -1) {
			c, ok := consts[m[1]]
			if !ok {
				t.Fatalf("%s: itemError(errcode.%s): no such code", name, m[1])
			}
			codes[c] = true
		}
	}
	return codes
}

// itemTableRow matches a row of the ItemErrorCode description table.
var itemTableRow = regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| (tokenize|detokenize|both) \\|")

func TestOpenAPIItemErrorCodes(t *testing.T) {
	doc := loadDoc(t)
	schemas := obj(t, obj(t, doc, "components", "document"), "schemas", "components")
	ic := obj(t, schemas, "ItemErrorCode", "schemas")
	if s := deref(t, doc, obj(t, obj(t, obj(t, schemas, "ItemError", "schemas"), "properties", "ItemError"), "code", "ItemError")); !reflect.DeepEqual(s, ic) {
		t.Error("ItemError.code is not the ItemErrorCode schema")
	}
	want := itemErrorCodes(t)
	enum, _ := ic["enum"].([]any)
	inEnum := map[string]bool{}
	for _, v := range enum {
		s, _ := v.(string)
		if inEnum[s] {
			t.Errorf("ItemErrorCode enum lists %s twice", s)
		}
		inEnum[s] = true
		if !want[s] {
			t.Errorf("ItemErrorCode enum lists %q, which no item can fail with", s)
		}
	}
	for c := range want {
		if !inEnum[c] {
			t.Errorf("item error code %s is not in the ItemErrorCode enum", c)
		}
	}
	desc, _ := ic["description"].(string)
	rows := map[string]bool{}
	for _, m := range itemTableRow.FindAllStringSubmatch(desc, -1) {
		if rows[m[1]] {
			t.Errorf("ItemErrorCode table lists %s twice", m[1])
		}
		rows[m[1]] = true
	}
	if !maps.Equal(rows, inEnum) {
		t.Errorf("ItemErrorCode table rows %v differ from its enum %v", slices.Sorted(maps.Keys(rows)), slices.Sorted(maps.Keys(inEnum)))
	}
}

// TestOpenAPITokensAndGuard ties the documented token and breach-detection
// shapes to the code.
func TestOpenAPITokensAndGuard(t *testing.T) {
	doc := loadDoc(t)
	schemas := obj(t, obj(t, doc, "components", "document"), "schemas", "components")
	prop := func(schema, name string) jsonObj {
		t.Helper()
		return deref(t, doc, obj(t, obj(t, obj(t, schemas, schema, "schemas"), "properties", schema), name, schema))
	}
	num := func(v any) int {
		t.Helper()
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%v is not a number", v)
		}
		i, err := strconv.Atoi(string(n))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	for _, s := range []string{"TokenizeRequest", "DetokenizeRequest"} {
		if got := num(prop(s, "items")["maxItems"]); got != tokens.MaxBatch {
			t.Errorf("%s.items.maxItems = %d, tokens.MaxBatch = %d", s, got, tokens.MaxBatch)
		}
	}
	enumOf := func(s jsonObj, where string) []string {
		t.Helper()
		var out []string
		for _, v := range s["enum"].([]any) {
			out = append(out, v.(string))
		}
		if len(out) == 0 {
			t.Errorf("%s has no enum", where)
		}
		return out
	}
	for _, c := range []struct {
		where string
		s     jsonObj
		want  []string
	}{
		{"FieldToken.kind", prop("FieldToken", "kind"), policy.TokenKinds},
		{"TokenizeResult.kind", prop("TokenizeResult", "kind"), policy.TokenKinds},
		{"Alert.severity", prop("Alert", "severity"), policy.GuardSeverities},
		{"Alert.response", prop("Alert", "response"), policy.GuardResponses},
		{"Alert.signal", prop("Alert", "signal"), policy.GuardSignals},
		{"Alert.window", prop("Alert", "window"), policy.GuardWindows},
		{"min_severity", deref(t, doc, obj(t, obj(t, obj(t, doc, "components", "document"), "parameters", "components"), "MinSeverity", "parameters")["schema"].(jsonObj)), policy.GuardSeverities},
	} {
		if got := enumOf(c.s, c.where); !slices.Equal(got, c.want) {
			t.Errorf("%s enum = %q, the code's = %q", c.where, got, c.want)
		}
	}

	// Token formats: the fpe formats are named, and the examples of
	// random and deterministic tokens parse and name their region.
	desc, _ := obj(t, doc, "info", "document")["description"].(string)
	for _, f := range policy.TokenFormats {
		if !strings.Contains(desc, "`"+f+"`") {
			t.Errorf("info.description does not name fpe token format %s", f)
		}
	}
	for _, where := range [][2]string{{"FieldToken", "token"}, {"TokenizeResult", "token"}, {"DetokenizeItem", "token"}} {
		ex, _ := prop(where[0], where[1])["examples"].([]any)
		kinds := map[tokfmt.Kind]bool{}
		for _, e := range ex {
			s := e.(string)
			if !tokfmt.IsToken(s) {
				continue // an fpe token
			}
			tok, err := tokfmt.Parse(s)
			if err != nil {
				t.Errorf("%s.%s example %q: %v", where[0], where[1], s, err)
				continue
			}
			kinds[tok.Kind] = true
			if r, err := tokfmt.RegionOf(s); err != nil || r != tok.Region {
				t.Errorf("%s.%s example %q: region %q, %v", where[0], where[1], s, r, err)
			}
		}
		if !kinds[tokfmt.Random] || !kinds[tokfmt.Deterministic] {
			t.Errorf("%s.%s: want a random and a deterministic example, got %v", where[0], where[1], kinds)
		}
	}

	// The alerts listing pages like the others, with the guard's default.
	params := obj(t, obj(t, doc, "components", "document"), "parameters", "components")
	if got := num(obj(t, obj(t, params, "AlertLimit", "parameters"), "schema", "AlertLimit")["default"]); got != 100 {
		t.Errorf("alert limit default = %d, guard.List's = 100", got)
	}
	op := obj(t, obj(t, obj(t, doc, "paths", "document"), "/v1/alerts", "paths"), "get", "/v1/alerts")
	got := map[string]bool{}
	for _, p := range op["parameters"].([]any) {
		pm := deref(t, doc, p.(jsonObj))
		if pm["in"] == "query" {
			got[pm["name"].(string)] = true
		}
	}
	for _, q := range []string{"principal", "rule", "min_severity", "since", "until", "cursor", "limit"} {
		if !got[q] {
			t.Errorf("GET /v1/alerts: no query parameter %s", q)
		}
	}
}

// constStrings returns the string constants of the given type declared in
// a Go file.
func constStrings(t *testing.T, file, typeName string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typeName {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: a %s constant is not a string literal", file, typeName)
				}
				c, _ := strconv.Unquote(lit.Value)
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no %s constants", file, typeName)
	}
	return out
}

// TestOpenAPIAudit ties the documented audit log to the code.
func TestOpenAPIAudit(t *testing.T) {
	doc := loadDoc(t)
	schemas := obj(t, obj(t, doc, "components", "document"), "schemas", "components")
	paths := obj(t, doc, "paths", "document")
	prop := func(schema, name string) jsonObj {
		t.Helper()
		return deref(t, doc, obj(t, obj(t, obj(t, schemas, schema, "schemas"), "properties", schema), name, schema))
	}
	op := func(path string) jsonObj {
		t.Helper()
		return obj(t, obj(t, paths, path, "paths"), "get", path)
	}
	param := func(path, in, name string) jsonObj {
		t.Helper()
		list, _ := obj(t, paths, path, "paths")["parameters"].([]any)
		list = append(slices.Clip(list), op(path)["parameters"].([]any)...)
		for _, p := range list {
			pm := deref(t, doc, p.(jsonObj))
			if pm["in"] == in && pm["name"] == name {
				return deref(t, doc, obj(t, pm, "schema", name))
			}
		}
		t.Fatalf("GET %s: no %s parameter %s", path, in, name)
		return nil
	}
	enumOf := func(s jsonObj, where string) []string {
		t.Helper()
		var out []string
		e, _ := s["enum"].([]any)
		for _, v := range e {
			out = append(out, v.(string))
		}
		if len(out) == 0 {
			t.Errorf("%s has no enum", where)
		}
		return out
	}
	const base = "/v1/regions/{region}/audit/"

	// Actions: the constants of the entry format, in the document's order.
	actions := constStrings(t, filepath.Join("..", "audit", "entry", "entry.go"), "Action")
	for _, a := range actions {
		if !entry.Action(a).Valid() {
			t.Errorf("entry.go declares action %q, which Valid refuses", a)
		}
	}
	for _, c := range []struct {
		where string
		s     jsonObj
	}{
		{"AuditRecord.action", prop("AuditRecord", "action")},
		{"GET " + base + "entries action", param(base+"entries", "query", "action")},
	} {
		if got := enumOf(c.s, c.where); !slices.Equal(got, actions) {
			t.Errorf("%s enum = %q, the entry format's = %q", c.where, got, actions)
		}
	}

	// Outcomes: ok, denied, aborted or error:<code>.
	re, err := regexp.Compile(prop("AuditRecord", "outcome")["pattern"].(string))
	if err != nil {
		t.Fatalf("AuditRecord.outcome pattern: %v", err)
	}
	for _, o := range []string{entry.OK, entry.Denied, entry.Aborted, entry.ErrorOutcome(string(errcode.AuditUnavailable))} {
		if !re.MatchString(o) {
			t.Errorf("AuditRecord.outcome pattern does not accept %q", o)
		}
	}
	for _, o := range []string{"", "error:", "fine", "OK"} {
		if re.MatchString(o) {
			t.Errorf("AuditRecord.outcome pattern accepts %q", o)
		}
	}

	// The tree's hash and the checkpoints' algorithms are the suites'.
	suites := []suite.Suite{suite.CNSuite(), suite.IntlSuite()}
	var hashes []string
	for _, s := range suites {
		hashes = append(hashes, s.Hash().ID())
	}
	if got := enumOf(prop("AuditProof", "hash"), "AuditProof.hash"); !slices.Equal(got, hashes) {
		t.Errorf("AuditProof.hash enum = %q, the suites' = %q", got, hashes)
	}
	cpDesc, _ := op(base + "checkpoint")["description"].(string)
	for _, s := range suites {
		if alg := "alg " + checkpoint.Alg(s.Signature(), s.Hash()); !strings.Contains(cpDesc, alg) {
			t.Errorf("GET %scheckpoint: description does not show %q", base, alg)
		}
	}
	// The listing's page sizes are the log's.
	if audit.DefaultListLimit != vault.DefaultPageSize || audit.MaxListLimit != vault.MaxPageSize {
		t.Errorf("audit list limits %d/%d differ from the documented page sizes %d/%d", audit.DefaultListLimit, audit.MaxListLimit,
			vault.DefaultPageSize, vault.MaxPageSize)
	}

	// Entry indexes and tree sizes are whole numbers.
	for _, p := range [][3]string{{"entries/{index}", "path", "index"}, {"proofs/inclusion", "query", "index"},
		{"proofs/inclusion", "query", "size"}, {"proofs/consistency", "query", "old"}, {"proofs/consistency", "query", "new"}} {
		s := param(base+p[0], p[1], p[2])
		if s["type"] != "integer" || s["minimum"] != json.Number("0") {
			t.Errorf("GET %s%s %s: schema %v, want an integer from 0", base, p[0], p[2], s)
		}
	}
	for _, name := range []string{"from", "to"} {
		if s := param(base+"entries", "query", name); s["type"] != "string" || s["format"] != "date-time" {
			t.Errorf("GET %sentries %s: schema %v, want a date-time", base, name, s)
		}
	}

	// The checkpoint and the key are not JSON; their examples are a
	// checkpoint the example key signed.
	example := map[string]string{}
	for route, ct := range map[string]string{"checkpoint": "text/plain", "pubkey": "application/x-pem-file"} {
		ok := deref(t, doc, obj(t, obj(t, op(base+route), "responses", route), "200", route))
		content, _ := ok["content"].(jsonObj)
		mt, found := content[ct].(jsonObj)
		if !found || len(content) != 1 {
			t.Errorf("GET %s%s 200: content %v, want %s only", base, route, slices.Sorted(maps.Keys(content)), ct)
			continue
		}
		ex, _ := obj(t, mt, "schema", route)["examples"].([]any)
		if len(ex) != 1 {
			t.Errorf("GET %s%s 200: want one example", base, route)
			continue
		}
		example[route], _ = ex[0].(string)
	}
	blk, rest := pem.Decode([]byte(example["pubkey"]))
	if blk == nil || blk.Type != "PUBLIC KEY" || len(rest) != 0 {
		t.Fatalf("the pubkey example is not one PEM PUBLIC KEY block")
	}
	s := suite.IntlSuite()
	pub, err := s.Signature().ParsePublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("the pubkey example: %v", err)
	}
	cp, err := checkpoint.Verify([]byte(example["checkpoint"]), pub, s.Signature(), s.Hash())
	if err != nil {
		t.Fatalf("the checkpoint example does not verify with the pubkey example: %v", err)
	}
	if cp.Origin != "domicile/eu-central" || len(cp.Root) != s.Hash().Size() {
		t.Errorf("the checkpoint example: origin %q, root of %d bytes", cp.Origin, len(cp.Root))
	}
}
