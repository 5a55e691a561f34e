package client

import (
	"encoding/json"
	"time"
)

// Wire types of the /v1 API. The server and the gateway use the same types,
// so the documented shapes and the code cannot drift apart.

// NewRecord is a record to create.
type NewRecord struct {
	Collection   string            `json:"collection"`
	Subject      string            `json:"subject"`
	Jurisdiction string            `json:"jurisdiction"`
	Fields       map[string]string `json:"fields"`
}

// CreateRequest is the body of POST /v1/records.
type CreateRequest struct {
	Records []NewRecord `json:"records"`
}

// Created names one created record.
type Created struct {
	ID     string `json:"id"`
	Region string `json:"region"`
	// Tokens are the tokens of its fields that have a token kind.
	Tokens []FieldToken `json:"tokens,omitempty"`
}

// CreateResponse is the answer to POST /v1/records.
type CreateResponse struct {
	Records []Created `json:"records"`
	// Replayed is true when an idempotency key matched an earlier request.
	Replayed bool `json:"replayed,omitempty"`
}

// Record is a record as the API returns it.
type Record struct {
	ID           string            `json:"id"`
	Collection   string            `json:"collection"`
	Subject      string            `json:"subject"`
	Jurisdiction string            `json:"jurisdiction"`
	Region       string            `json:"region"`
	Fields       map[string]string `json:"fields"`
	Created      time.Time         `json:"created"`
	Updated      time.Time         `json:"updated"`
	// Access is how the access decision shaped this record.
	Access *Access `json:"access,omitempty"`
}

// PatchRequest is the body of PATCH /v1/records/{id}.
type PatchRequest struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Page is one page of records.
type Page struct {
	Records []Record `json:"records"`
	// Next is the cursor of the next page; empty on the last page.
	Next string `json:"next_cursor,omitempty"`
}

// SearchRequest is the body of POST /v1/collections/{collection}/search.
// Values travel in the body, never in URLs that proxies log.
type SearchRequest struct {
	Field        string `json:"field"`
	Value        string `json:"value"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	Cursor       string `json:"cursor,omitempty"`
	Limit        int    `json:"limit,omitempty"`
}

// EraseResponse is the answer to DELETE /v1/subjects/{subject}.
type EraseResponse struct {
	Erased  int            `json:"erased"`
	Regions map[string]int `json:"regions"`
}

// Region describes one region.
type Region struct {
	Name          string            `json:"name"`
	Suite         string            `json:"suite"`
	Residency     string            `json:"residency"`
	Jurisdictions []string          `json:"jurisdictions"`
	Algorithms    map[string]string `json:"algorithms"`
	KeyVersions   map[string]uint32 `json:"key_versions"`
	Records       map[string]int64  `json:"records"`
	// Migration is "FROM -> TO (PHASE)" while the region moves to another
	// suite (domicile keys migrate); absent otherwise.
	Migration string `json:"migration,omitempty"`
}

// RegionsResponse is the answer to GET /v1/regions.
type RegionsResponse struct {
	Regions []Region `json:"regions"`
}

// KeyVersion is one version of a key-encryption key.
type KeyVersion struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	State   string    `json:"state"`
	// Suite is the suite of the version's algorithms (cn or intl).
	Suite string `json:"suite,omitempty"`
}

// KeyPurpose is the state of one purpose's keys.
type KeyPurpose struct {
	Purpose  string       `json:"purpose"`
	Current  uint32       `json:"current"`
	Versions []KeyVersion `json:"versions"`
}

// KeyStatus is the answer to GET /v1/regions/{region}/keys.
type KeyStatus struct {
	Region  string       `json:"region"`
	Suite   string       `json:"suite"`
	Keys    []KeyPurpose `json:"keys"`
	Subject int64        `json:"subject_keys"`
}

// RotateRequest is the body of POST /v1/regions/{region}/keys/rotate.
type RotateRequest struct {
	Purpose string `json:"purpose"`
}

// RotateResponse is its answer.
type RotateResponse struct {
	Region  string `json:"region"`
	Purpose string `json:"purpose"`
	Version uint32 `json:"version"`
}

// Problem is an RFC 9457 problem detail; Code is stable and documented.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail,omitempty"`
	Field     string `json:"field,omitempty"`
	Index     *int   `json:"index,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Hint      string `json:"hint,omitempty"`
	// Token is set when a principal creation or token rotation reached
	// only some regions: the bearer token it gives the principal, to send
	// again (as the request's token) with the same request to finish.
	Token string `json:"token,omitempty"`
}

// Access says how the access decision shaped a record: which rule governed
// it, whether the read was a cross-border transfer, and what the caller
// sees of each field ("clear", "masked:MASK"; fields it may not see are
// absent from both Fields and Record.Fields).
type Access struct {
	Rule     string            `json:"rule"`
	Transfer bool              `json:"transfer,omitempty"`
	Roles    []string          `json:"roles,omitempty"`
	Fields   map[string]string `json:"fields"`
	Reasons  []string          `json:"reasons,omitempty"`
	// Refused names the fields the record holds that the decision does
	// not show (set by collection exports; a single read leaves it out).
	Refused []string `json:"refused,omitempty"`
}

// PrincipalRequest is the body of POST /v1/principals.
type PrincipalRequest struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Roles    []string `json:"roles"`
	Location string   `json:"location"`
	// Organisation is the legal entity the principal acts for, as
	// transfer mechanisms name their recipients (optional).
	Organisation string   `json:"organisation,omitempty"`
	Regions      []string `json:"regions,omitempty"`
	// ExpiresIn is the token's lifetime as a Go duration ("720h"); empty
	// means no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
	// Token is set by the gateway when it fans a creation out to every
	// region, so that all regions accept the same token; callers leave it
	// empty.
	Token string `json:"token,omitempty"`
}

// TokenInfo describes a token without revealing it. After a rotation with
// an overlap, the old token is listed with the end of the window as its
// expiry.
type TokenInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
}

// Principal is a person or service that calls the API.
type Principal struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Roles    []string `json:"roles"`
	Location string   `json:"location"`
	// Organisation is the legal entity the principal acts for.
	Organisation string      `json:"organisation,omitempty"`
	Regions      []string    `json:"regions,omitempty"`
	State        string      `json:"state"`
	Created      time.Time   `json:"created"`
	Tokens       []TokenInfo `json:"tokens"`
}

// PrincipalToken is the answer to creating a principal or rotating its
// token: the token is shown once and never stored in clear.
type PrincipalToken struct {
	Principal Principal `json:"principal"`
	Token     string    `json:"token"`
}

// PrincipalsResponse is the answer to GET /v1/principals.
type PrincipalsResponse struct {
	Principals []Principal `json:"principals"`
}

// TokenRequest is the body of POST /v1/principals/{id}/rotate-token.
type TokenRequest struct {
	// ExpiresIn is the new token's lifetime, a Go duration such as "720h";
	// empty means no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
	// Token is set by the gateway: the one new token of every region.
	Token string `json:"token,omitempty"`
	// Overlap, a Go duration such as "24h" (at most 720h), keeps the
	// principal's current tokens valid that much longer, so that its
	// services roll to the new token without downtime; empty revokes them
	// at once.
	Overlap string `json:"overlap,omitempty"`
}

// FieldToken is the token of one field of a created record.
type FieldToken struct {
	Field      string `json:"field"`
	Token      string `json:"token"`
	Kind       string `json:"kind"`
	KeyVersion uint32 `json:"key_version,omitempty"`
}

// TokenizeItem is one value to tokenize. Subject, optional, binds the
// token to that subject: it stops detokenizing when the subject is erased.
// A token made without a subject lives until its key version is retired.
type TokenizeItem struct {
	Collection   string `json:"collection"`
	Field        string `json:"field"`
	Value        string `json:"value"`
	Jurisdiction string `json:"jurisdiction"`
	Subject      string `json:"subject,omitempty"`
}

// TokenizeRequest is the body of POST /v1/tokenize (up to 1,000 items).
type TokenizeRequest struct {
	Items []TokenizeItem `json:"items"`
}

// ItemError is the error of one item of a batch.
type ItemError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// TokenizeResult is the outcome of one item: a token or an error.
type TokenizeResult struct {
	Token      string     `json:"token,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	KeyVersion uint32     `json:"key_version,omitempty"`
	Error      *ItemError `json:"error,omitempty"`
}

// TokenizeResponse is the answer to POST /v1/tokenize, in request order.
type TokenizeResponse struct {
	Results []TokenizeResult `json:"results"`
}

// DetokenizeItem is one token to turn back into its value. Random and
// deterministic tokens name their region; fpe tokens need Region (or
// Jurisdiction), Collection and Field, and KeyVersion once rotated.
type DetokenizeItem struct {
	Token        string `json:"token"`
	Region       string `json:"region,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	Collection   string `json:"collection,omitempty"`
	Field        string `json:"field,omitempty"`
	KeyVersion   uint32 `json:"key_version,omitempty"`
}

// DetokenizeRequest is the body of POST /v1/detokenize (up to 1,000 items).
type DetokenizeRequest struct {
	Items []DetokenizeItem `json:"items"`
}

// DetokenizeResult is the outcome of one item: the value, shown only in
// clear (a principal who may not see the field in clear gets an error), or
// an error.
type DetokenizeResult struct {
	Value      string     `json:"value,omitempty"`
	Collection string     `json:"collection,omitempty"`
	Field      string     `json:"field,omitempty"`
	Rule       string     `json:"rule,omitempty"`
	Error      *ItemError `json:"error,omitempty"`
}

// DetokenizeResponse is the answer to POST /v1/detokenize, in request order.
type DetokenizeResponse struct {
	Results []DetokenizeResult `json:"results"`
}

// Alert is a breach-detection alert: the rule that fired and its evidence
// (counts and windows), never a personal value.
type Alert struct {
	ID        string             `json:"id"`
	Time      time.Time          `json:"time"`
	Region    string             `json:"region"`
	Principal string             `json:"principal"`
	Rule      string             `json:"rule"`
	Severity  string             `json:"severity"`
	Response  string             `json:"response"`
	Signal    string             `json:"signal,omitempty"`
	Window    string             `json:"window,omitempty"`
	Count     float64            `json:"count"`
	Limit     float64            `json:"limit"`
	Expected  float64            `json:"expected,omitempty"`
	Counts    map[string]float64 `json:"counts,omitempty"`
	// Action is what the request that raised the alert did (read,
	// search, detokenize, ...).
	Action string `json:"action,omitempty"`
	// RequestIDs are the requests that are the alert's evidence (at least
	// the one that raised it); the audit log's entries of these requests
	// say what they did.
	RequestIDs []string `json:"request_ids,omitempty"`
}

// AlertsResponse is the answer to GET /v1/alerts.
type AlertsResponse struct {
	Alerts []Alert `json:"alerts"`
	Next   string  `json:"next_cursor,omitempty"`
}

// SeedDecoysRequest is the body of POST /v1/regions/{region}/decoys.
type SeedDecoysRequest struct {
	Count         int      `json:"count"`
	Collection    string   `json:"collection,omitempty"`
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	// Principal is the service whose creates the decoys look like;
	// absent means the latest creator in the region's log.
	Principal string `json:"principal,omitempty"`
	// Purpose is the purpose their creates state; absent means that
	// principal's latest create's.
	Purpose string `json:"purpose,omitempty"`
	// Spread is how long the planting takes, such as "24h" (1m to 720h);
	// absent means 24h.
	Spread string `json:"spread,omitempty"`
}

// SeedDecoysResponse is its answer; the decoys' ids are not shown.
type SeedDecoysResponse struct {
	Region string `json:"region"`
	Seeded int    `json:"seeded"`
	// Spread is how long the planting takes, such as "24h".
	Spread string `json:"spread,omitempty"`
}

// AuditEntries is a page of a region's audit log; entries carry ids, codes
// and keyed MACs, never values.
type AuditEntries struct {
	Entries []AuditRecord `json:"entries"`
	Next    string        `json:"next_cursor,omitempty"`
}

// AuditRecord is one audit entry as the API shows it. Subjects are keyed
// MACs of subject ids.
type AuditRecord struct {
	Index      uint64    `json:"index"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	RequestID  string    `json:"request_id,omitempty"`
	Principal  string    `json:"principal,omitempty"`
	Location   string    `json:"location,omitempty"`
	Action     string    `json:"action"`
	Collection string    `json:"collection,omitempty"`
	Records    []string  `json:"records,omitempty"`
	// Fields are the fields written (create, patch) or shown in clear
	// (read, search, detokenize); in an entry of Version 1, the fields
	// shown in any form.
	Fields   []string `json:"fields,omitempty"`
	Subjects [][]byte `json:"subjects,omitempty"`
	Purpose  string   `json:"purpose,omitempty"`
	Decision string   `json:"decision,omitempty"`
	Rule     string   `json:"rule,omitempty"`
	Outcome  string   `json:"outcome"`
	// Masked are the fields shown masked.
	Masked []string `json:"masked,omitempty"`
	// Refused are the fields withheld, each with the reason's code.
	Refused []AuditRefusal `json:"refused,omitempty"`
	// Version is the entry's encoding when it is not the current one: 1
	// for entries written before masked and refused fields were recorded.
	Version int `json:"version,omitempty"`
}

// AuditRefusal is a field withheld from the caller and the stable code of
// the reason (permission_denied, clear_access_required, ...).
type AuditRefusal struct {
	Field string `json:"field"`
	Code  string `json:"code"`
}

// AuditEntry is one entry with its stored bytes and leaf hash, so a client
// can check an inclusion proof itself.
type AuditEntry struct {
	Entry    AuditRecord `json:"entry"`
	Raw      []byte      `json:"raw"`
	LeafHash []byte      `json:"leaf_hash"`
}

// AuditProof is an inclusion proof (Index in a tree of Size) or a
// consistency proof (from Old to Size), with the root of the tree of Size
// and the hash function.
type AuditProof struct {
	Index  uint64   `json:"index,omitempty"`
	Old    uint64   `json:"old,omitempty"`
	Size   uint64   `json:"size"`
	Root   []byte   `json:"root"`
	Hashes [][]byte `json:"hashes"`
	Hash   string   `json:"hash"`
}

// AuditKeys is the history of a region's audit-signing key.
type AuditKeys struct {
	Region string     `json:"region"`
	Origin string     `json:"origin"` // the log's name in its checkpoints
	Keys   []AuditKey `json:"keys"`   // oldest first
}

// AuditKey is one version of a region's audit-signing key and the stored
// checkpoints it signed.
type AuditKey struct {
	Version   uint32    `json:"version"`
	State     string    `json:"state"`
	Current   bool      `json:"current"`
	Created   time.Time `json:"created"`
	Algorithm string    `json:"algorithm"`  // the signature scheme, such as "SM2"
	PublicKey string    `json:"public_key"` // PEM
	// KeyHash is how checkpoints name the key (hex of 4 bytes);
	// Fingerprint is the full hash the rotation entry introducing it names
	// (hex), of which KeyHash is the start.
	KeyHash     string `json:"key_hash"`
	Fingerprint string `json:"fingerprint"`
	// Checkpoints is how many stored checkpoints the key signed, sizes
	// FirstSize through LastSize (both 0 when none).
	Checkpoints int    `json:"checkpoints"`
	FirstSize   uint64 `json:"first_size"`
	LastSize    uint64 `json:"last_size"`
}

// TransferReport is a region's signed report of a year's cross-border
// transfers. Payload is the exact bytes signed (after the context
// "domicile transfer report v1\n"), Report the same report as an object,
// for people; 'domicile transfers verify' checks the signature with the
// region's audit keys and that the two agree.
type TransferReport struct {
	Region    string `json:"region"`
	Year      int    `json:"year"`
	Algorithm string `json:"algorithm"` // the signature scheme, such as "SM2"
	// KeyHash names the signing audit key as checkpoints name it (hex of
	// 4 bytes).
	KeyHash   string             `json:"key_hash"`
	Payload   []byte             `json:"payload"`
	Signature []byte             `json:"signature"`
	Report    TransferReportBody `json:"report"`
}

// TransferReportBody is a year's account of a region's transfers: no
// personal value, only counts.
type TransferReportBody struct {
	Region    string    `json:"region"`
	Year      int       `json:"year"`
	TimeZone  string    `json:"time_zone"` // the year runs from 1 January in it
	Generated time.Time `json:"generated"`
	// Individuals are the distinct individuals counted towards the
	// thresholds (exempt mechanisms' transfers are not counted).
	Individuals TransferIndividuals `json:"individuals"`
	// Required is the mechanism level the counts need (absent without
	// thresholds).
	Required   string              `json:"required,omitempty"`
	Thresholds []TransferThreshold `json:"thresholds,omitempty"`
	Transfers  []TransferCount     `json:"transfers"`
	Mechanisms []TransferMechanism `json:"mechanisms"`
}

// TransferIndividuals is a count of distinct individuals by class of
// personal information.
type TransferIndividuals struct {
	NonSensitive int64 `json:"non_sensitive"`
	Sensitive    int64 `json:"sensitive"`
}

// TransferThreshold is the headroom under one mechanism level's limits;
// -1 means no limit.
type TransferThreshold struct {
	Level                string `json:"level"`
	LimitNonSensitive    int64  `json:"limit_non_sensitive"`
	LimitSensitive       int64  `json:"limit_sensitive"`
	HeadroomNonSensitive int64  `json:"headroom_non_sensitive"` // negative: over the limit
	HeadroomSensitive    int64  `json:"headroom_sensitive"`
}

// TransferCount is the year's figures of one jurisdiction, destination,
// mechanism and class.
type TransferCount struct {
	Jurisdiction string `json:"jurisdiction"`
	Destination  string `json:"destination"`
	Mechanism    string `json:"mechanism"` // "-" when none
	Class        string `json:"class"`     // "non-sensitive" or "sensitive"
	Individuals  int64  `json:"individuals"`
	Records      int64  `json:"records"`
}

// TransferMechanism is one recorded mechanism of the region, with its
// status at the report's time and the year's transfers under it.
type TransferMechanism struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Reference  string   `json:"reference,omitempty"`
	To         []string `json:"to"`
	ValidFrom  string   `json:"valid_from"`
	ValidUntil string   `json:"valid_until,omitempty"`
	// Status is "valid", "expiring" (ends within 90 days), "expired" or
	// "not yet valid".
	Status      string `json:"status"`
	Individuals int64  `json:"individuals"`
	Records     int64  `json:"records"`
}

// ConsentRequest records a subject's separate consent to transfers of its
// data to Destination for Purpose (and, when set, only to Recipient).
type ConsentRequest struct {
	Destination string `json:"destination"`
	Recipient   string `json:"recipient,omitempty"`
	Purpose     string `json:"purpose"`
	// Evidence references where the signed consent is kept, such as the
	// form's document id; never the document itself.
	Evidence string `json:"evidence"`
}

// Consent is one consent of a subject, live until Withdrawn is set.
type Consent struct {
	ID          string     `json:"id"`
	Destination string     `json:"destination"`
	Recipient   string     `json:"recipient,omitempty"`
	Purpose     string     `json:"purpose"`
	Evidence    string     `json:"evidence"`
	Given       time.Time  `json:"given"`
	Withdrawn   *time.Time `json:"withdrawn,omitempty"`
}

// Consents is a subject's consents in one region, withdrawn ones included.
type Consents struct {
	Region   string    `json:"region"`
	Consents []Consent `json:"consents"`
}

// SubjectPackage is everything one region holds about a subject, signed
// with the region's audit key (GET
// /v1/regions/{region}/subjects/{subject}/export): the subject's records
// as the caller may see them, consents, transfers abroad and every access
// from the audit log. 'domicile subjects verify' checks it offline.
type SubjectPackage struct {
	Region    string `json:"region"`
	Algorithm string `json:"algorithm"` // the signature scheme, such as "SM2"
	// KeyHash names the signing audit key as checkpoints name it (hex of
	// 4 bytes).
	KeyHash   string `json:"key_hash"`
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	// Package is the payload as JSON, to read; only Payload is signed.
	Package json.RawMessage `json:"package"`
}

// RewrapRequest is the body of POST /v1/regions/{region}/keys/rewrap.
type RewrapRequest struct {
	// Purpose is the key whose older versions are moved off: only data
	// (the other purposes wrap nothing and are refused, saying why).
	Purpose string `json:"purpose"`
	// Batch is how many stored entries one step scans and rewraps at
	// most; 0 means 256.
	Batch int `json:"batch,omitempty"`
	// Pause, such as "50ms", is how long the job waits after each step
	// that rewrapped something, so that it does not starve writes.
	Pause string `json:"pause,omitempty"`
}

// MigrateRequest is the body of POST /v1/regions/{region}/keys/migrate.
type MigrateRequest struct {
	// Suite is the suite the region moves to: cn or intl.
	Suite string `json:"suite"`
	// Batch and Pause throttle the migration job as they do a rewrap.
	Batch int    `json:"batch,omitempty"`
	Pause string `json:"pause,omitempty"`
}

// RewrapJob is the state of a region's rewrap job: the answer to POST
// /v1/regions/{region}/keys/rewrap, and part of KeyUsage. A suite
// migration's job (POST /v1/regions/{region}/keys/migrate) is one too.
type RewrapJob struct {
	Region  string `json:"region"`
	ID      string `json:"id"`
	Purpose string `json:"purpose"`
	// State is running, paused (unfinished, and no node holds it now: a
	// node of the region takes it over shortly), done or failed.
	State string `json:"state"`
	// New is true when this request started the job, false when it was
	// already unfinished (or in a status).
	New bool `json:"new"`
	// Target is the current data version when the job started.
	Target uint32 `json:"target"`
	// Done is how many subject keys the job rewrapped; Total how many
	// were under older versions when it started.
	Done       int64      `json:"done"`
	Total      int64      `json:"total"`
	Batch      int        `json:"batch"`
	Pause      string     `json:"pause"`
	StartedAt  time.Time  `json:"started"`
	UpdatedAt  time.Time  `json:"updated"`
	FinishedAt *time.Time `json:"finished,omitempty"`
	// Node is the node running the job, or the last one that did.
	Node  string `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
	// Suite is the suite a migration job moves the region's data to;
	// absent for a rewrap job.
	Suite string `json:"suite,omitempty"`
	// Phase is keys while the job rewraps subject keys, then records and
	// tokens while a migration job seals them again.
	Phase string `json:"phase,omitempty"`
	// Resealed is how many records and token entries a migration job
	// sealed again under Suite.
	Resealed int64 `json:"resealed,omitempty"`
}

// KeyVersionUsage is one key version and what still uses it.
type KeyVersionUsage struct {
	Purpose string `json:"purpose"`
	Version uint32 `json:"version"`
	// State is active, retired or destroyed.
	State   string `json:"state"`
	Current bool   `json:"current"`
	// Suite is the suite of the version's algorithms (cn or intl): a
	// region's versions share one suite unless it migrated suite (absent
	// for destroyed versions).
	Suite string `json:"suite,omitempty"`
	// SubjectKeys is how many subject keys are wrapped under the version
	// (data versions only: the use of the other purposes is not counted).
	SubjectKeys *int64 `json:"subject_keys,omitempty"`
}

// KeyUsage is the answer to GET /v1/regions/{region}/keys/usage.
type KeyUsage struct {
	Region   string            `json:"region"`
	Versions []KeyVersionUsage `json:"versions"`
	// Job is the region's rewrap job, if one was ever started.
	Job *RewrapJob `json:"job,omitempty"`
}

// KeyVersionRequest is the body of POST /v1/regions/{region}/keys/retire
// and POST /v1/regions/{region}/keys/destroy.
type KeyVersionRequest struct {
	Purpose string `json:"purpose"`
	Version uint32 `json:"version"`
	// Force confirms the change of an index or token version, whose use
	// nothing counts: blind indexes and tokens made under it stop working.
	Force bool `json:"force,omitempty"`
}

// KeyVersionResponse is the answer to a retire or destroy.
type KeyVersionResponse struct {
	Region  string `json:"region"`
	Purpose string `json:"purpose"`
	Version uint32 `json:"version"`
	// State is the version's state now: retired or destroyed.
	State string `json:"state"`
}

// UnsealRequest is the body of POST /v1/regions/{region}/unseal: exactly
// one of Share, HSM and Reset. The route takes no secret path and no
// secret: only one Shamir share per call, or a request to use the HSM the
// node was started with.
type UnsealRequest struct {
	// Share is one Shamir share (dms1-M-I-...), as 'domicile keys split'
	// printed it. It is never logged or echoed.
	Share string `json:"share,omitempty"`
	// HSM asks the node to unwrap the unseal secret with the PKCS#11
	// token and wrapped file it was started with (--unseal pkcs11:...
	// --unseal-wrapped FILE --start-sealed).
	HSM bool `json:"hsm,omitempty"`
	// Reset drops the shares given so far.
	Reset bool `json:"reset,omitempty"`
}

// SealStatus is a region node's seal state: the answer to POST
// /v1/regions/{region}/unseal and POST /v1/regions/{region}/seal.
type SealStatus struct {
	Region string `json:"region"`
	Sealed bool   `json:"sealed"`
	// Progress is how many good shares the node holds towards unsealing.
	Progress int `json:"progress"`
	// Threshold is how many shares unseal, known from the first share
	// (0 before it).
	Threshold int `json:"threshold,omitempty"`
	// HSM says that the node was started with a PKCS#11 token to unseal
	// with ({"hsm": true}).
	HSM bool `json:"hsm,omitempty"`
}

// PrincipalChange is the body of PATCH /v1/principals/{id}: the attributes
// to change; those left out stay.
type PrincipalChange struct {
	Roles        []string  `json:"roles,omitempty"`
	Location     *string   `json:"location,omitempty"`
	Organisation *string   `json:"organisation,omitempty"`
	Regions      *[]string `json:"regions,omitempty"`
}
