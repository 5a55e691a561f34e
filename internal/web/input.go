package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/domicile/domicile/internal/errcode"
)

// This file is the input gate of every request: bodies are valid UTF-8
// JSON, paths are canonical, and a request no route takes learns whether
// the path exists with other methods.

// checkStrings fails for the first string of body, key or value, that is
// not valid Unicode: invalid UTF-8 bytes, or an escaped lone surrogate
// (encoding/json turns both into U+FFFD without a word, which would store
// something other than what was sent). The error is invalid_value and names
// the JSON key whose value holds the string, never the string.
func checkStrings(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
		return nil // nothing the decoder could replace
	}
	// frame is an open object or array: for an object, key is its current
	// member's key and wantKey says a key comes next; for an array, key is
	// the key the array is the value of.
	type frame struct {
		obj, wantKey bool
		key          string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF, or malformed JSON that the decoder reports itself
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				name := ""
				if top != nil {
					name = top.key
				}
				stack = append(stack, frame{obj: t == '{', wantKey: t == '{', key: name})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].wantKey = true
				}
			}
			continue
		case string:
			name := "" // a key names nothing but itself
			if top != nil && !(top.obj && top.wantKey) {
				name = top.key
			}
			if !validString(body[start:dec.InputOffset()], t) {
				return &errcode.Error{Code: errcode.InvalidValue, Msg: quoteKey(name) + " is not valid UTF-8",
					Field: name, Index: errcode.NoIndex}
			}
			if top != nil && top.obj && top.wantKey {
				top.key, top.wantKey = t, false
				continue
			}
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
	}
}

// validString reports whether the raw JSON text of a string decoded to s
// without replacement characters that were not sent as such.
func validString(raw []byte, s string) bool {
	if !utf8.Valid(raw) {
		return false
	}
	if !strings.ContainsRune(s, utf8.RuneError) {
		return true
	}
	// U+FFFD sent literally or escaped is fine; one made from a lone
	// surrogate escape is not.
	n := strings.Count(s, string(utf8.RuneError))
	sent := bytes.Count(raw, []byte(string(utf8.RuneError))) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	return n == sent
}

// quoteKey names the JSON string whose value was wrong, by its key.
func quoteKey(k string) string {
	if k == "" {
		return "a JSON string"
	}
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return "the value of " + strconv.Quote(k)
}

// canonical reports whether p is a clean absolute path: no "." or ".."
// segments, no doubled slashes. A trailing slash is allowed.
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// allowed returns the methods of the routes whose path matches p, for a
// 405 answer's Allow header.
func allowed(p string) []string {
	var out []string
	for _, rt := range Routes {
		if matchPath(rt.Path, p) && !contains(out, rt.Method) {
			out = append(out, rt.Method)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// matchPath reports whether p matches pattern, where a {name} segment
// matches any one non-empty segment.
func matchPath(pattern, p string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(p, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// refuseRoute answers a request no route takes: 405 with Allow when the
// path exists with other methods, 404 otherwise.
func refuseRoute(w http.ResponseWriter, r *http.Request) {
	if methods := allowed(r.URL.Path); len(methods) > 0 {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		WriteError(w, r, nil, errcode.New(errcode.MethodNotAllowed, "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(methods, " or ")))
		return
	}
	WriteError(w, r, nil, errcode.New(errcode.NoSuchEndpoint, "no endpoint %s %s", r.Method, r.URL.Path))
}
