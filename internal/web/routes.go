package web

import (
	"fmt"
	"net/http"
	"strings"
)

// Routing says how the gateway routes the requests of a route to the
// regions behind it.
type Routing int

// The ways the gateway routes.
const (
	// ByJurisdiction: the jurisdiction in the body names the region: of
	// every record of a create (one region per batch), of each item of a
	// tokenize (items are split across regions), of a search (a search
	// that names none goes to every region, like FanOut).
	ByJurisdiction Routing = iota + 1
	// ByRecordID: the {id} path value, a record id, names the region.
	ByRecordID
	// ByRegion: the {region} path value names the region.
	ByRegion
	// ByToken: each item's token names its region (an fpe item gives its
	// region or jurisdiction); items are split across regions.
	ByToken
	// FanOut: every region answers, in parallel; the gateway merges the
	// answers, or answers the first failure.
	FanOut
	// AnyRegion: every region holds the same answer (principals are kept
	// in every region); the gateway asks the first.
	AnyRegion
	// Local: the gateway answers itself.
	Local
)

var routingNames = map[Routing]string{ByJurisdiction: "by jurisdiction", ByRecordID: "by record id", ByRegion: "by region",
	ByToken: "by token", FanOut: "fan-out", AnyRegion: "any region", Local: "local"}

// String returns the routing's name.
func (r Routing) String() string {
	if s, ok := routingNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Routing(%d)", int(r))
}

// Route is one route of the API.
type Route struct {
	Method string // GET, POST, PUT, PATCH or DELETE
	Path   string // a net/http pattern path, such as /v1/records/{id}
	// Name is the route's name, its operationId in the OpenAPI document.
	Name string
	// Gateway is how the gateway routes the route's requests.
	Gateway Routing
	// Public routes are served without a bearer token: probes, metrics,
	// the OpenAPI document and the unseal route. Every other route is
	// authenticated and goes through the access decision.
	Public bool
}

// Pattern returns the route's net/http pattern, "METHOD /path".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Routes is every route of the API, in the OpenAPI document's order. The
// gateway and a region's node both register their handlers from it (see
// Register); the OpenAPI document has exactly these operations.
var Routes = []Route{
	{"POST", "/v1/records", "createRecords", ByJurisdiction, false},
	{"GET", "/v1/records/{id}", "getRecord", ByRecordID, false},
	{"PATCH", "/v1/records/{id}", "patchRecord", ByRecordID, false},
	{"DELETE", "/v1/records/{id}", "deleteRecord", ByRecordID, false},
	{"GET", "/v1/subjects/{subject}/records", "listSubjectRecords", FanOut, false},
	{"DELETE", "/v1/subjects/{subject}", "eraseSubject", FanOut, false},
	{"POST", "/v1/collections/{collection}/search", "searchCollection", ByJurisdiction, false},
	{"GET", "/v1/collections/{collection}/records", "exportCollection", FanOut, false},
	{"POST", "/v1/tokenize", "tokenize", ByJurisdiction, false},
	{"POST", "/v1/detokenize", "detokenize", ByToken, false},
	{"GET", "/v1/regions", "listRegions", FanOut, false},
	{"GET", "/v1/regions/{region}/keys", "getRegionKeys", ByRegion, false},
	{"POST", "/v1/regions/{region}/keys/rotate", "rotateRegionKey", ByRegion, false},
	{"POST", "/v1/regions/{region}/keys/rewrap", "rewrapRegionKeys", ByRegion, false},
	{"POST", "/v1/regions/{region}/keys/migrate", "migrateRegionSuite", ByRegion, false},
	{"GET", "/v1/regions/{region}/keys/usage", "getRegionKeyUsage", ByRegion, false},
	{"POST", "/v1/regions/{region}/keys/retire", "retireRegionKey", ByRegion, false},
	{"POST", "/v1/regions/{region}/keys/destroy", "destroyRegionKey", ByRegion, false},
	{"POST", "/v1/regions/{region}/decoys", "seedDecoys", ByRegion, false},
	{"POST", "/v1/regions/{region}/seal", "sealRegion", ByRegion, false},
	// The policy a region's node serves (version and digest), and its
	// replacement without a restart: the body is the policy document.
	{"GET", "/v1/regions/{region}/policy", "getRegionPolicy", ByRegion, false},
	{"PUT", "/v1/regions/{region}/policy", "putRegionPolicy", ByRegion, false},
	// Unauthenticated: the shares (or the node's HSM) are the credential,
	// and a sealed region cannot check a token. Refusals are rate limited
	// at the node.
	{"POST", "/v1/regions/{region}/unseal", "unsealRegion", ByRegion, true},
	{"GET", "/v1/regions/{region}/audit/entries", "listAuditEntries", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/entries/{index}", "getAuditEntry", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/proofs/inclusion", "getAuditInclusionProof", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/proofs/consistency", "getAuditConsistencyProof", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/checkpoint", "getAuditCheckpoint", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/pubkey", "getAuditPublicKey", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/keys", "listAuditKeys", ByRegion, false},
	{"GET", "/v1/regions/{region}/audit/export", "exportAuditLog", ByRegion, false},
	{"GET", "/v1/regions/{region}/backup", "backupRegion", ByRegion, false},
	{"GET", "/v1/regions/{region}/transfers/report", "getTransferReport", ByRegion, false},
	{"GET", "/v1/regions/{region}/subjects/{subject}/consents", "listConsents", ByRegion, false},
	{"POST", "/v1/regions/{region}/subjects/{subject}/consents", "giveConsent", ByRegion, false},
	{"POST", "/v1/regions/{region}/subjects/{subject}/consents/{id}/withdraw", "withdrawConsent", ByRegion, false},
	{"GET", "/v1/regions/{region}/subjects/{subject}/export", "exportSubject", ByRegion, false},
	{"GET", "/v1/alerts", "listAlerts", FanOut, false},
	{"POST", "/v1/principals", "createPrincipal", FanOut, false},
	{"GET", "/v1/principals", "listPrincipals", FanOut, false},
	{"GET", "/v1/principals/{id}", "getPrincipal", AnyRegion, false},
	{"PATCH", "/v1/principals/{id}", "updatePrincipal", FanOut, false},
	{"DELETE", "/v1/principals/{id}", "deletePrincipal", FanOut, false},
	{"POST", "/v1/principals/{id}/disable", "disablePrincipal", FanOut, false},
	{"POST", "/v1/principals/{id}/enable", "enablePrincipal", FanOut, false},
	{"POST", "/v1/principals/{id}/unlock", "unlockPrincipal", FanOut, false},
	{"POST", "/v1/principals/{id}/rotate-token", "rotatePrincipalToken", FanOut, false},
	{"GET", "/v1/openapi.json", "getOpenAPI", Local, true},
	{"GET", "/healthz", "getHealth", Local, true},
	{"GET", "/readyz", "getReadiness", FanOut, true},
	{"GET", "/metrics", "getMetrics", Local, true},
}

// Register adds routes to mux, each with the handler that handlerFor
// returns for it. When handlerFor returns nil for some route it registers
// nothing and fails naming every such route, so that a server cannot
// start with a route of the table unserved.
func Register(mux *http.ServeMux, routes []Route, handlerFor func(Route) http.Handler) error {
	hs := make([]http.Handler, len(routes))
	var missing []string
	for i, rt := range routes {
		if hs[i] = handlerFor(rt); hs[i] == nil {
			missing = append(missing, rt.Name+" ("+rt.Pattern()+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("web: no handler for %s", strings.Join(missing, ", "))
	}
	for i, rt := range routes {
		mux.Handle(rt.Pattern(), hs[i])
	}
	return nil
}
