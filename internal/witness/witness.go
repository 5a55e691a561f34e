// Package witness is a transparency-log witness for Domicile regions'
// audit logs: it speaks c2sp.org/tlog-witness (POST /add-checkpoint) and
// answers with c2sp.org/tlog-cosignature "cosignature/v1" Ed25519
// cosignatures.
//
// For each log it knows (by origin, with the region's audit public keys and
// suite) it keeps the latest checkpoint it cosigned, one file per log in its
// state directory, replaced atomically (write, fsync, rename, fsync of the
// directory) before it answers. It cosigns a checkpoint only when one of the
// region's keys signed it and a consistency proof shows it extends that
// latest checkpoint, so a log that forks or rolls back its history cannot
// get it cosigned. The proof is RFC 6962's, under the region's suite hash
// (SM3 for cn): a generic witness, which assumes SHA-256 and signed-note
// key IDs, cannot witness Domicile logs, but the cosignatures this one makes
// are the standard ones that any cosignature/v1 verifier checks.
package witness

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/domicile/domicile/internal/audit/checkpoint"
	"github.com/domicile/domicile/internal/audit/tlog"
	"github.com/domicile/domicile/internal/suite"
)

// Protocol limits.
const (
	// MaxProofLines is the most consistency proof lines a request may have
	// (c2sp.org/tlog-witness).
	MaxProofLines = 63
	// MaxBody bounds a request body: the old size line, the proof and a
	// checkpoint of at most checkpoint.MaxSize bytes.
	MaxBody = 32 << 10
	// SizeContentType is the type of a 409 answer that carries the size of
	// the latest cosigned checkpoint.
	SizeContentType = "text/x.tlog.size"
)

// Log is a log the witness cosigns: its origin line, the region's audit
// public keys (a checkpoint signed by any of them is accepted, so keys can
// rotate) and the region suite's signature and hash.
type Log struct {
	Origin    string
	Keys      []crypto.PublicKey
	Signature suite.Signature
	Hash      suite.Hash
}

// Options configure New.
type Options struct {
	// Key is the witness's signing key, an skey as GenerateKey writes it
	// ("PRIVATE+KEY+<name>+<key ID>+base64(0x04 || Ed25519 seed)"; a
	// signed-note Ed25519 skey, type 0x01, is used the same way).
	Key string
	// StateDir holds one file per log: the latest checkpoint cosigned.
	StateDir string
	Logs     []Log
	// Logger receives one line per cosignature and per refused request
	// that may show misbehaviour; nil discards.
	Logger *slog.Logger
}

// Witness is the witness. It is an http.Handler, safe for concurrent use.
type Witness struct {
	signer *tdnote.Signer
	vkey   string
	dir    string
	logs   map[string]*logState
	log    *slog.Logger
	mux    *http.ServeMux
}

// logState is one log and the latest checkpoint cosigned for it.
type logState struct {
	Log
	file string

	mu   sync.Mutex // held from the size check to the state written
	size uint64
	root []byte // nil: nothing cosigned yet
}

// Error is a refused add-checkpoint request: the HTTP status that
// c2sp.org/tlog-witness prescribes, and why.
type Error struct {
	Status int
	// Size is the size of the latest cosigned checkpoint when Status is
	// 409 because the request's old size differs from it (HasSize).
	Size    uint64
	HasSize bool
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("witness: %s (%d %s)", e.Msg, e.Status, http.StatusText(e.Status))
}

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// GenerateKey makes a witness key pair named name: the skey (secret) and
// the vkey that verifiers of its cosignatures need, both for Ed25519
// cosignature/v1 (type 0x04).
//
// Errors: a name that checkpoints cannot carry (see
// checkpoint.ParseWitnessKey); the random source's.
func GenerateKey(name string) (skey, vkey string, err error) {
	skey1, vkey1, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("witness: key %q: %w (a name is non-empty, without spaces or '+')", name, err)
	}
	vkey, err = tdnote.VKeyToCosignatureV1(vkey1)
	if err != nil {
		return "", "", fmt.Errorf("witness: key %q: %w", name, err)
	}
	if _, err := checkpoint.ParseWitnessKey(vkey); err != nil {
		return "", "", err
	}
	seed, err := parseSKey(skey1)
	if err != nil {
		return "", "", err
	}
	k, _ := checkpoint.ParseWitnessKey(vkey)
	kh := k.KeyHash()
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, binary.BigEndian.Uint32(kh[:]),
		base64.StdEncoding.EncodeToString(append([]byte{0x04}, seed...)))
	return skey, vkey, nil
}

// parseSKey returns the Ed25519 seed of an skey of type 0x01 or 0x04.
func parseSKey(skey string) ([]byte, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("witness: the signing key is not an skey (PRIVATE+KEY+NAME+KEYID+KEY)")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || (raw[0] != 0x01 && raw[0] != 0x04) {
		return nil, errors.New("witness: the signing key is not an Ed25519 skey (type 0x01 or 0x04 and a 32-byte seed)")
	}
	return raw[1:], nil
}

// VerifierKey returns the cosignature/v1 vkey of an skey.
//
// Errors: a malformed skey or name.
func VerifierKey(skey string) (string, error) {
	skey = strings.TrimSpace(skey)
	seed, err := parseSKey(skey)
	if err != nil {
		return "", err
	}
	s, err := tdnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return "", fmt.Errorf("witness: signing key: %w", err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	vkey := fmt.Sprintf("%s+%08x+%s", s.Name(), s.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{0x04}, pub...)))
	if _, err := checkpoint.ParseWitnessKey(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}

// New returns a witness for o.Logs, with the state o.StateDir holds (it is
// created with mode 0700 if absent).
//
// Errors: a malformed key, a log without keys or suite, an origin given
// twice, a state file that does not parse or is not of its log.
func New(o Options) (*Witness, error) {
	vkey, err := VerifierKey(o.Key)
	if err != nil {
		return nil, err
	}
	signer, err := tdnote.NewSignerForCosignatureV1(strings.TrimSpace(o.Key))
	if err != nil {
		return nil, fmt.Errorf("witness: signing key: %w", err)
	}
	if o.StateDir == "" {
		return nil, errors.New("witness: no state directory")
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: state directory: %w", err)
	}
	if len(o.Logs) == 0 {
		return nil, errors.New("witness: no log to witness")
	}
	w := &Witness{signer: signer, vkey: vkey, dir: o.StateDir, logs: map[string]*logState{}, log: o.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for _, l := range o.Logs {
		switch {
		case l.Origin == "" || l.Signature == nil || l.Hash == nil:
			return nil, fmt.Errorf("witness: log %q: origin, signature and hash are required", l.Origin)
		case len(l.Keys) == 0:
			return nil, fmt.Errorf("witness: log %s: no public key", l.Origin)
		case w.logs[l.Origin] != nil:
			return nil, fmt.Errorf("witness: log %s is given twice", l.Origin)
		}
		for i, k := range l.Keys {
			if _, err := l.Signature.MarshalPublicKey(k); err != nil {
				return nil, fmt.Errorf("witness: log %s: key %d is not a %s key: %w", l.Origin, i+1, l.Signature.ID(), err)
			}
		}
		ls := &logState{Log: l, file: filepath.Join(o.StateDir, stateFile(l.Origin))}
		if err := ls.load(); err != nil {
			return nil, err
		}
		w.logs[l.Origin] = ls
	}
	w.mux = http.NewServeMux()
	w.mux.HandleFunc("POST /add-checkpoint", w.addCheckpoint)
	return w, nil
}

// Name returns the witness's name, as its cosignature lines carry it.
func (w *Witness) Name() string { return w.signer.Name() }

// VerifierKey returns the witness's vkey, for the verifiers of its
// cosignatures.
func (w *Witness) VerifierKey() string { return w.vkey }

// stateFile is the name of a log's state file: the origin with every byte
// but letters, digits, '.', '-' and '_' written %XX.
func stateFile(origin string) string {
	var b strings.Builder
	for i := 0; i < len(origin); i++ {
		c := origin[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + ".checkpoint"
}

// load reads the log's state file, if any.
func (ls *logState) load() error {
	b, err := os.ReadFile(ls.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("witness: state of %s: %w", ls.Origin, err)
	}
	s, err := checkpoint.Parse(b)
	if err != nil {
		return fmt.Errorf("witness: state of %s (%s): %w", ls.Origin, ls.file, err)
	}
	if s.Origin != ls.Origin {
		return fmt.Errorf("witness: state file %s holds a checkpoint of %s, not of %s", ls.file, s.Origin, ls.Origin)
	}
	ls.size, ls.root = s.Size, s.Root
	return nil
}

// save replaces the log's state file with cp, durably.
func (ls *logState) save(cp []byte) error {
	dir := filepath.Dir(ls.file)
	f, err := os.CreateTemp(dir, filepath.Base(ls.file)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(cp)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, ls.file)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ParseRequest splits an add-checkpoint request body into the old size,
// the consistency proof and the checkpoint.
//
// Errors: an *Error (400) saying what is malformed.
func ParseRequest(body []byte) (old uint64, proof [][]byte, cp []byte, err error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return 0, nil, nil, refuse(http.StatusBadRequest, `the body must start with a line "old <size>"`)
	}
	n, found := bytes.CutPrefix(line, []byte("old "))
	if !found {
		return 0, nil, nil, refuse(http.StatusBadRequest, `the first line must be "old <size>"`)
	}
	old, perr := strconv.ParseUint(string(n), 10, 64)
	if perr != nil || strconv.FormatUint(old, 10) != string(n) {
		return 0, nil, nil, refuse(http.StatusBadRequest, "the old size %.20q is not a decimal without leading zeros", n)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, refuse(http.StatusBadRequest, "no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(proof) == MaxProofLines {
			return 0, nil, nil, refuse(http.StatusBadRequest, "more than %d consistency proof lines", MaxProofLines)
		}
		h, derr := base64.StdEncoding.Strict().DecodeString(string(line))
		if derr != nil || len(h) == 0 {
			return 0, nil, nil, refuse(http.StatusBadRequest, "consistency proof line %d is not a base64 hash", len(proof)+1)
		}
		proof = append(proof, h)
	}
	return old, proof, rest, nil
}

// Add checks a checkpoint submitted with the old size and the consistency
// proof from it, records it as the latest for its log and returns the
// witness's cosignature line on it.
//
// Errors: an *Error with the status c2sp.org/tlog-witness prescribes: 400
// for a malformed checkpoint or an old size beyond its size, 404 for an
// unknown origin, 403 when none of the log's keys signed it, 409 when the
// old size is not the size of the latest checkpoint cosigned (Size says
// which) or the checkpoint has that size but another root (a fork), 422
// for a consistency proof that does not verify; others (500) when the
// state cannot be written or the cosignature made.
func (w *Witness) Add(old uint64, proof [][]byte, cp []byte) ([]byte, error) {
	s, err := checkpoint.Parse(cp)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	ls := w.logs[s.Origin]
	if ls == nil {
		return nil, refuse(http.StatusNotFound, "unknown log %q", s.Origin)
	}
	signed := false
	for _, k := range ls.Keys {
		if _, err := checkpoint.Verify(cp, k, ls.Signature, ls.Hash); err == nil {
			signed = true
			break
		}
	}
	if !signed {
		return nil, refuse(http.StatusForbidden, "the checkpoint of %s carries no valid signature by a key of the log", s.Origin)
	}
	if old > s.Size {
		return nil, refuse(http.StatusBadRequest, "old size %d is beyond the checkpoint's size %d", old, s.Size)
	}

	ls.mu.Lock()
	defer ls.mu.Unlock()
	if old != ls.size {
		return nil, &Error{Status: http.StatusConflict, Size: ls.size, HasSize: true,
			Msg: fmt.Sprintf("old size %d, but the latest checkpoint cosigned for %s has size %d", old, s.Origin, ls.size)}
	}
	switch {
	case ls.root == nil: // nothing cosigned yet: old is 0
		if len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a consistency proof from size 0 must be empty")
		}
	case s.Size == ls.size:
		if len(proof) != 0 {
			return nil, refuse(http.StatusUnprocessableEntity, "a consistency proof between equal sizes must be empty")
		}
		if !bytes.Equal(s.Root, ls.root) {
			w.log.Warn("witness: FORK: a signed checkpoint has the size of the latest cosigned one but another root",
				"origin", s.Origin, "size", s.Size, "root", base64.StdEncoding.EncodeToString(s.Root),
				"cosigned_root", base64.StdEncoding.EncodeToString(ls.root))
			return nil, refuse(http.StatusConflict, "the checkpoint of %s at size %d has another root hash than the one cosigned at that size", s.Origin, s.Size)
		}
	default:
		if err := tlog.VerifyConsistency(ls.Hash, ls.size, s.Size, ls.root, s.Root, proof); err != nil {
			w.log.Warn("witness: a signed checkpoint does not extend the latest cosigned one",
				"origin", s.Origin, "from", ls.size, "to", s.Size, "err", err)
			return nil, refuse(http.StatusUnprocessableEntity, "the consistency proof from size %d to %d does not verify: %v", ls.size, s.Size, err)
		}
	}
	if err := ls.save(cp); err != nil {
		return nil, refuse(http.StatusInternalServerError, "recording the checkpoint: %v", err)
	}
	ls.size, ls.root = s.Size, s.Root
	sig, err := w.signer.Sign(s.Body())
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "cosigning: %v", err)
	}
	raw := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(sig)), w.signer.KeyHash())
	line := fmt.Appendf(nil, "— %s %s\n", w.signer.Name(), base64.StdEncoding.EncodeToString(append(raw, sig...)))
	w.log.Info("witness: cosigned", "origin", s.Origin, "size", s.Size)
	return line, nil
}

// ServeHTTP serves POST /add-checkpoint.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

func (w *Witness) addCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(rw, fmt.Sprintf("the body exceeds %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	old, proof, cp, err := ParseRequest(body)
	var line []byte
	if err == nil {
		line, err = w.Add(old, proof, cp)
	}
	var we *Error
	switch {
	case err == nil:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(line)
	case errors.As(err, &we) && we.HasSize:
		rw.Header().Set("Content-Type", SizeContentType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", we.Size)
	case errors.As(err, &we):
		if we.Status >= 500 {
			w.log.Error("witness: add-checkpoint", "err", we.Msg)
		}
		http.Error(rw, we.Msg, we.Status)
	default:
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	}
}

// Serve serves the witness on ln until ctx is done, then shuts down
// gracefully (requests in flight get ten seconds).
//
// Errors: the server's, other than its closing.
func (w *Witness) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("witness: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("witness: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("witness: %w", err)
	}
	return nil
}
