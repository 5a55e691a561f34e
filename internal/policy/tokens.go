package policy

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Token kinds a field may have.
const (
	// TokenRandom: an opaque token naming its region, mapped to the value
	// in that region's store.
	TokenRandom = "random"
	// TokenDeterministic: the same value gives the same token within a
	// region (for joins and de-duplication).
	TokenDeterministic = "deterministic"
	// TokenFPE: format-preserving encryption (FF1 over the region's
	// block cipher) in one of the TokenFormats.
	TokenFPE = "fpe"
)

// TokenKinds lists the token kinds.
var TokenKinds = []string{TokenRandom, TokenDeterministic, TokenFPE}

// TokenFormats are the formats of fpe tokens.
var TokenFormats = []string{"cn_resident_id", "e164", "pan", "digits", "alphanumeric"}

// fpeFormatFits says which field types each fpe format fits.
var fpeFormatFits = map[string][]string{
	"cn_resident_id": {TypeNationalID},
	"e164":           {TypePhone},
	"pan":            {TypeString},
	"digits":         {TypeString, TypeNationalID},
	"alphanumeric":   {TypeString, TypeNationalID},
}

func (p *parser) parseFieldToken(item *yaml.Node, m map[string]entry, f *Field) {
	if e, ok := m["token"]; ok {
		if s, ok := p.str(e.value, "token"); ok {
			f.Token = s
			if !slices.Contains(TokenKinds, s) {
				hint := didYouMean(s, TokenKinds)
				if hint == "" {
					hint = "the token kinds are " + strings.Join(TokenKinds, ", ")
				}
				p.errorf(e.value, hint, "unknown token kind %q", s)
			}
		}
	}
	e, ok := m["token_format"]
	switch {
	case f.Token == TokenFPE && !ok:
		p.errorf(item, "add \"token_format: ...\", one of "+strings.Join(TokenFormats, ", "), "field %s has fpe tokens but no token_format", f.Name)
	case f.Token != TokenFPE && ok:
		p.errorf(e.key, "token_format goes with \"token: fpe\"", "token_format without fpe tokens")
	case ok:
		if s, ok := p.str(e.value, "token_format"); ok {
			f.TokenFormat = s
			fits, known := fpeFormatFits[s]
			switch {
			case !known:
				hint := didYouMean(s, TokenFormats)
				if hint == "" {
					hint = "the formats are " + strings.Join(TokenFormats, ", ")
				}
				p.errorf(e.value, hint, "unknown token format %q", s)
			case f.Type != "" && !slices.Contains(fits, f.Type):
				p.errorf(e.value, "format "+s+" fits fields of type "+strings.Join(fits, " or "), "token format %s does not fit type %s", s, f.Type)
			}
		}
	}
}
