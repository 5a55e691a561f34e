package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/domicile/domicile/client"
)

// cookieName is the session cookie; its path is Prefix, so the API never
// receives it.
const cookieName = "domicile_console"

// sessionAAD binds a sealed session to its use.
var sessionAAD = []byte("domicile console session v1")

// sessionKeys are made at start-up and never leave the process: one seals
// the session cookie, the other derives its CSRF token.
type sessionKeys struct {
	aead    cipher.AEAD
	csrfKey []byte
}

func newSessionKeys() (*sessionKeys, error) {
	var k [64]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	block, err := aes.NewCipher(k[:32])
	if err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	return &sessionKeys{aead: aead, csrfKey: append([]byte(nil), k[32:]...)}, nil
}

// seal returns the cookie value of a session of token, signed in at t.
func (k *sessionKeys) seal(token string, t time.Time) string {
	pt := make([]byte, 8, 8+len(token))
	binary.BigEndian.PutUint64(pt, uint64(t.Unix()))
	pt = append(pt, token...)
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(pt)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, pt, sessionAAD))
}

var errBadSession = errors.New("console: session cookie does not open")

// open returns the token and sign-in time of a cookie value.
func (k *sessionKeys) open(v string) (token string, at time.Time, err error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < k.aead.NonceSize()+k.aead.Overhead()+8 {
		return "", time.Time{}, errBadSession
	}
	n := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, b[:n], b[n:], sessionAAD)
	if err != nil {
		return "", time.Time{}, errBadSession
	}
	return string(pt[8:]), time.Unix(int64(binary.BigEndian.Uint64(pt[:8])), 0), nil
}

// csrf returns the form token of a session cookie value.
func (k *sessionKeys) csrf(cookie string) string {
	m := hmac.New(sha256.New, k.csrfKey)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports, in constant time, whether got is the form token of
// the session cookie value.
func (k *sessionKeys) checkCSRF(cookie, got string) bool {
	return hmac.Equal([]byte(k.csrf(cookie)), []byte(got))
}

// session is a signed-in browser: its token and the API client acting
// with it.
type session struct {
	cookie string
	token  string
	api    *client.Client
}

// client returns an API client that sends token, from the browser of r,
// to the gateway's API handler in this process.
func (c *Console) client(r *http.Request, token string) (*client.Client, error) {
	hc := &http.Client{Transport: &inProcess{h: c.api, from: r}}
	return client.New("http://gateway.console.internal", token, client.WithHTTPClient(hc), client.WithUserAgent("domicile-console/1"))
}

// session wraps a page that needs a signed-in browser: without a session
// cookie it goes to sign-in; with one that no longer opens or has
// expired, to sign-in saying so. A POST must carry the session's CSRF
// token.
func (c *Console) session(page func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		if err != nil || ck.Value == "" {
			http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
			return
		}
		token, at, err := c.keys.open(ck.Value)
		if err != nil || c.now().Sub(at) > c.ttl || at.After(c.now().Add(time.Minute)) {
			c.expire(w, r)
			return
		}
		s := &session{cookie: ck.Value, token: token}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				c.problem(w, r, s, http.StatusBadRequest, client.Problem{Code: "malformed_form", Detail: "the form could not be read"})
				return
			}
			if !c.keys.checkCSRF(ck.Value, r.PostForm.Get("csrf")) {
				c.problem(w, r, s, http.StatusForbidden, client.Problem{Code: "csrf_token_invalid", Title: "Forbidden",
					Detail: "the form's CSRF token does not match this session", Hint: "reload the page and send the form again"})
				return
			}
		}
		if s.api, err = c.client(r, token); err != nil {
			c.expire(w, r)
			return
		}
		page(w, r, s)
	}
}

// setCookie sets (or, with an empty value, clears) the session cookie. It
// is always Secure: browsers keep Secure cookies over HTTPS and on
// http://localhost and http://127.0.0.1.
func setCookie(w http.ResponseWriter, value string) {
	ck := &http.Cookie{Name: cookieName, Value: value, Path: Prefix, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if value == "" {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// expire clears the session and sends the browser to sign-in, saying that
// the session ended.
func (c *Console) expire(w http.ResponseWriter, r *http.Request) {
	setCookie(w, "")
	http.Redirect(w, r, Prefix+"/signin?expired=1", http.StatusSeeOther)
}

// signinView is the sign-in page's data.
type signinView struct {
	// Insecure: the browser reached the console over plain HTTP on a
	// name other than a loopback address, where it drops Secure cookies.
	Insecure bool
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Sign in", Data: signinView{Insecure: insecureOrigin(r)}}
	if r.Method == http.MethodGet {
		switch {
		case r.URL.Query().Get("expired") != "":
			v.Notice = "Your session ended. Sign in again."
		case r.URL.Query().Get("out") != "":
			v.Notice = "Signed out."
		}
		c.render(w, nil, http.StatusOK, "signin", v)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.problem(w, r, nil, http.StatusBadRequest, client.Problem{Code: "malformed_form", Detail: "the form could not be read"})
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	refuse := func(status int, p client.Problem) {
		v.Problem = &p
		c.render(w, nil, status, "signin", v)
	}
	if token == "" || len(token) > 512 || strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		refuse(http.StatusBadRequest, client.Problem{Code: "invalid_token", Detail: "paste a principal's API token (dmc_…), as 'domicile dev' wrote it to DATA/admin.token"})
		return
	}
	api, err := c.client(r, token)
	if err != nil {
		refuse(http.StatusBadRequest, client.Problem{Code: "invalid_token", Detail: "paste a principal's API token (dmc_…)"})
		return
	}
	// Any authenticated call checks the token; listing the regions is
	// cheap and open to every principal.
	if _, err := api.Regions(r.Context()); err != nil {
		p := problemOf(err)
		// A principal whom the API knows but refuses here is signed in:
		// the pages show each refusal.
		if p.Status != http.StatusForbidden {
			refuse(apiStatus(p), p)
			return
		}
	}
	setCookie(w, c.keys.seal(token, c.now()))
	http.Redirect(w, r, Prefix+"/regions", http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	c.session(func(w http.ResponseWriter, r *http.Request, s *session) {
		setCookie(w, "")
		http.Redirect(w, r, Prefix+"/signin?out=1", http.StatusSeeOther)
	})(w, r)
}

// insecureOrigin reports whether r came over plain HTTP to a host that is
// not a loopback address, where a browser drops the Secure cookie.
func insecureOrigin(r *http.Request) bool {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip == nil || !ip.IsLoopback()
}
