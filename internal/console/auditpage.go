package console

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/domicile/domicile/client"
	"github.com/domicile/domicile/internal/audit"
	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/suite"
)

// auditView is the audit page: the region's latest checkpoint, checked
// here against the audit keys the region serves; an entry's inclusion in
// it; and a verification of the whole log, as 'domicile audit verify'
// does it.
type auditView struct {
	Region  string
	Regions []string
	Suite   string

	Checkpoint *checkpointView
	// Problem is a failure of the checkpoint or keys (the API's refusal,
	// or a checkpoint that does not verify).
	Problem *client.Problem

	Index     string
	Inclusion *inclusionView
	// InclusionProblem is why the lookup gave no verdict.
	InclusionProblem *client.Problem

	Verify        bool
	Report        *audit.Report
	VerifyFailure string
	VerifyProblem *client.Problem
}

type checkpointView struct {
	Text         string
	Origin       string
	Size         uint64
	Root         string
	Time         string
	KeyVersion   uint32
	KeyState     string
	Keys         int
	SignatureAlg string
}

type inclusionView struct {
	Entry    client.AuditRecord
	LeafHash string
	Hashes   []string
	Size     uint64
	Root     string
	// LeafOK: the entry's bytes hash to the leaf hash the API gave.
	LeafOK bool
	// Verified: the proof leads from the leaf to the signed root.
	Verified bool
	Failure  string
}

// auditContext is what checking a region's log needs: its suite and the
// key set made from the audit keys it serves.
type auditContext struct {
	suite suite.Suite
	keys  *checkpoint.KeySet
	hist  *client.AuditKeys
}

func (c *Console) auditKeys(r *http.Request, s *session, region string, st suite.Suite) (*auditContext, error) {
	hist, err := s.api.AuditKeys(r.Context(), region)
	if err != nil {
		return nil, err
	}
	var keys []checkpoint.Key
	for _, k := range hist.Keys {
		key, err := checkpoint.KeyFromPEM([]byte(k.PublicKey), k.Algorithm, st.Signature())
		if err != nil {
			return nil, fmt.Errorf("the region's audit key v%d: %w", k.Version, err)
		}
		keys = append(keys, key)
	}
	ks, err := checkpoint.NewKeySetOf(st.Hash(), keys...)
	if err != nil {
		return nil, err
	}
	return &auditContext{suite: st, keys: ks, hist: hist}, nil
}

// localProblem is a problem found here, not by the API.
func localProblem(code string, err error) *client.Problem {
	return &client.Problem{Status: http.StatusUnprocessableEntity, Code: code, Detail: err.Error()}
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	rs, err := s.api.Regions(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := auditView{Region: q.Get("region"), Index: strings.TrimSpace(q.Get("index")), Verify: q.Get("verify") != ""}
	var reg *client.Region
	for i := range rs.Regions {
		v.Regions = append(v.Regions, rs.Regions[i].Name)
		if rs.Regions[i].Name == v.Region {
			reg = &rs.Regions[i]
		}
	}
	if v.Region == "" && len(rs.Regions) > 0 {
		reg, v.Region = &rs.Regions[0], rs.Regions[0].Name
	}
	vw := view{Title: "Audit", Active: "/audit", Data: &v}
	if reg == nil {
		c.problem(w, r, s, http.StatusNotFound, client.Problem{Code: "unknown_region", Detail: "no such region behind this gateway", Hint: "pick a region from the list"})
		return
	}
	v.Suite = reg.Suite
	st, err := suite.ByID(suite.ID(reg.Suite))
	if err != nil {
		v.Problem = localProblem("unknown_suite", err)
		c.render(w, s, http.StatusBadGateway, "audit", vw)
		return
	}
	status := http.StatusOK
	// A failed lookup or verification gives the page its status, the
	// first one's.
	failed := func(p *client.Problem) { status = worse(status, apiStatus(*p)) }
	ac, err := c.auditKeys(r, s, v.Region, st)
	var raw []byte
	if err == nil {
		raw, err = s.api.AuditCheckpoint(r.Context(), v.Region)
	}
	if err != nil {
		var ce *client.Error
		if !errors.As(err, &ce) {
			v.Problem = localProblem("audit_key_invalid", err)
		} else if ce.Problem.Status == http.StatusUnauthorized {
			c.expire(w, r)
			return
		} else {
			p := ce.Problem
			v.Problem = &p
			failed(&p)
		}
		c.render(w, s, worse(status, apiStatus(*v.Problem)), "audit", vw)
		return
	}
	cp, ki, err := ac.keys.Verify(raw)
	if err != nil {
		v.Problem = localProblem("checkpoint_invalid", err)
		c.render(w, s, http.StatusOK, "audit", vw)
		return
	}
	v.Checkpoint = &checkpointView{Text: string(raw), Origin: cp.Origin, Size: cp.Size, Root: hex.EncodeToString(cp.Root),
		Time: cp.Time.UTC().Format("2006-01-02 15:04:05 UTC"), Keys: ac.keys.Len(), SignatureAlg: cp.Alg}
	if ki >= 0 && ki < len(ac.hist.Keys) {
		v.Checkpoint.KeyVersion, v.Checkpoint.KeyState = ac.hist.Keys[ki].Version, ac.hist.Keys[ki].State
	}
	if v.Index != "" {
		v.Inclusion, v.InclusionProblem = c.inclusion(r, s, v.Region, v.Index, ac, cp)
		if v.InclusionProblem != nil {
			if v.InclusionProblem.Status == http.StatusUnauthorized {
				c.expire(w, r)
				return
			}
			failed(v.InclusionProblem)
		}
	}
	if v.Verify {
		v.Report, v.VerifyFailure, v.VerifyProblem = c.verifyLog(r, s, v.Region, ac)
		if v.VerifyProblem != nil {
			if v.VerifyProblem.Status == http.StatusUnauthorized {
				c.expire(w, r)
				return
			}
			failed(v.VerifyProblem)
		}
	}
	c.render(w, s, status, "audit", vw)
}

// worse returns a unless it is 200, else b.
func worse(a, b int) int {
	if a != http.StatusOK {
		return a
	}
	return b
}

// inclusion looks entry index up and checks, here, that it is in the tree
// of the verified checkpoint cp: its bytes hash to its leaf, and the API's
// proof leads from the leaf to cp's root.
func (c *Console) inclusion(r *http.Request, s *session, region, index string, ac *auditContext, cp *checkpoint.Checkpoint) (*inclusionView, *client.Problem) {
	i, err := strconv.ParseUint(index, 10, 64)
	if err != nil {
		return nil, &client.Problem{Status: http.StatusBadRequest, Code: "invalid_index", Detail: "the entry index must be a whole number such as 0 or 42"}
	}
	if i >= cp.Size {
		return nil, &client.Problem{Status: http.StatusNotFound, Code: "not_in_checkpoint",
			Detail: fmt.Sprintf("entry %d is not covered by the latest signed checkpoint (size %d)", i, cp.Size),
			Hint:   "pick an index below the checkpoint's size, or reload once the region signs a newer checkpoint"}
	}
	e, err := s.api.AuditEntry(r.Context(), region, i)
	if err != nil {
		p := problemOf(err)
		return nil, &p
	}
	proof, err := s.api.AuditInclusion(r.Context(), region, i, cp.Size)
	if err != nil {
		p := problemOf(err)
		return nil, &p
	}
	h := ac.suite.Hash()
	leaf := tlog.LeafHash(h, e.Raw)
	out := &inclusionView{Entry: e.Entry, LeafHash: hex.EncodeToString(leaf), Size: cp.Size, Root: hex.EncodeToString(cp.Root),
		LeafOK: bytes.Equal(leaf, e.LeafHash)}
	for _, p := range proof.Hashes {
		out.Hashes = append(out.Hashes, hex.EncodeToString(p))
	}
	switch {
	case !out.LeafOK:
		out.Failure = "the entry's bytes do not hash to the leaf hash the region gave"
	case proof.Size != cp.Size:
		out.Failure = fmt.Sprintf("the region proved inclusion in a tree of size %d, not the checkpoint's %d", proof.Size, cp.Size)
	default:
		if err := tlog.VerifyInclusion(h, i, cp.Size, leaf, proof.Hashes, cp.Root); err != nil {
			out.Failure = err.Error()
		} else {
			out.Verified = true
		}
	}
	return out, nil
}

// verifyLog fetches the region's whole log and verifies it with
// audit.Verify, as 'domicile audit verify' does without --pubkey: with the
// audit keys the region serves.
func (c *Console) verifyLog(r *http.Request, s *session, region string, ac *auditContext) (*audit.Report, string, *client.Problem) {
	rc, err := s.api.AuditExport(r.Context(), region)
	if err != nil {
		p := problemOf(err)
		return nil, "", &p
	}
	defer rc.Close()
	rep, err := audit.Verify(r.Context(), audit.NewExportReader(rc), audit.VerifyOptions{Keys: ac.keys})
	var ve *audit.VerifyError
	switch {
	case errors.As(err, &ve):
		return nil, ve.Error(), nil
	case err != nil:
		return nil, "", &client.Problem{Status: http.StatusBadGateway, Code: "audit_export_failed",
			Detail: "reading the region's log failed: " + err.Error(), Hint: "run the verification again"}
	}
	return rep, "", nil
}

// KeyUses says, for the template, what each audit key signed.
func (v *auditView) KeyUses() []string {
	if v.Report == nil {
		return nil
	}
	var out []string
	for _, k := range v.Report.Keys {
		line := fmt.Sprintf("key %x: ", k.KeyHash)
		if k.Checkpoints > 0 {
			line += fmt.Sprintf("signed %d checkpoint(s), sizes %d..%d", k.Checkpoints, k.First, k.Last)
		} else {
			line += "signed no stored checkpoint"
		}
		if k.Introduced >= 0 {
			line += fmt.Sprintf("; introduced by entry %d", k.Introduced)
		}
		out = append(out, line)
	}
	return slices.Clip(out)
}

// RootHex is the verified log's root.
func (v *auditView) RootHex() string {
	if v.Report == nil {
		return ""
	}
	return hex.EncodeToString(v.Report.Root)
}
